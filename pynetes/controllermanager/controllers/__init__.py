"""The controllers, a module (or package) each; see :mod:`pynetes.controllermanager.registry`."""
