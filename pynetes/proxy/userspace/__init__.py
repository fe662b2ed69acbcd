"""The userspace proxy backend (see :mod:`pynetes.proxy.userspace.backend`)."""

from pynetes.proxy.userspace.backend import UserspaceBackend

__all__ = ["UserspaceBackend"]
