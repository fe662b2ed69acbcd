"""The in-tree registry: every plugin pynetes ships, by its upstream name."""

from __future__ import annotations

from pynetes.scheduler.framework.registry import Registry
from pynetes.scheduler.plugins import (
    default_binder,
    default_preemption,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_balanced_allocation,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    priority_sort,
    taint_toleration,
)


def in_tree_registry() -> Registry:
    """A fresh registry (callers may add their own plugins to it)."""
    return Registry(
        {
            module.NAME: module.new
            for module in (
                priority_sort,
                node_name,
                node_unschedulable,
                taint_toleration,
                node_affinity,
                node_ports,
                node_resources_fit,
                pod_topology_spread,
                inter_pod_affinity,
                default_preemption,
                node_resources_balanced_allocation,
                image_locality,
                default_binder,
            )
        }
    )
