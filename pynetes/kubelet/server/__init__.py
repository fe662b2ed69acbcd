"""The kubelet's HTTPS API (app.py) and the exec/attach/port-forward streams it serves."""

from pynetes.kubelet.server.app import KubeletServer, RunningPods, ServingOptions

__all__ = ["KubeletServer", "RunningPods", "ServingOptions"]
