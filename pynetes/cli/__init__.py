"""The ``pynetes`` command line."""
