"""The process runtime: containers as host process groups, each under a shim that
outlives the kubelet (runtime.py), images as a catalog of commands (images.py)."""

from pynetes.kubelet.runtime.process.images import ImageCatalog
from pynetes.kubelet.runtime.process.runtime import ProcessRuntime, StartContainerError

__all__ = ["ImageCatalog", "ProcessRuntime", "StartContainerError"]
