"""NodeResourcesFit: a pod fits a node whose allocatable resources, less what its
pods request, cover the pod's requests (and that has a pod slot left); nodes
are scored by one of the scoring strategies."""

from pynetes.scheduler.plugins.node_resources_fit.plugin import NAME, NodeResourcesFit, new

__all__ = ["NAME", "NodeResourcesFit", "new"]
