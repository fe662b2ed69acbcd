"""Container runtimes behind one CRI-shaped interface (see interface.py)."""
