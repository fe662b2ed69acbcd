"""Upstream's DefaultSelector: which pods a pod without constraints of its own
is spread against when the default constraints apply.

The selector merges the selectors of the Services that select the pod (a
Service without a selector selects nothing, so it is left out) with that of
the pod's controlling ReplicationController, ReplicaSet or StatefulSet (by
exact apiVersion and kind, as upstream). Pods of one workload thus spread
from each other; a pod owned by nothing and behind no Service gets an empty
selector, and then no default constraints at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.labels import EVERYTHING, Selector, selector_from_label_selector, selector_from_set
from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.cache.lister import Lister

Object = dict[str, Any]

SERVICES = built_in("", "v1", "services")
REPLICATION_CONTROLLERS = built_in("", "v1", "replicationcontrollers")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
STATEFUL_SETS = built_in("apps", "v1", "statefulsets")


@dataclass(frozen=True)
class WorkloadListers:
    """Where the selectors come from: the scheduler's informers' stores."""

    services: Lister
    replication_controllers: Lister
    replica_sets: Lister
    stateful_sets: Lister

    @classmethod
    def from_informers(cls, informers: SharedInformerFactory) -> WorkloadListers:
        """Ask for the four informers now, while the plugin is built, so they start
        and sync with the scheduler's own."""
        return cls(
            *(
                informers.informer(resource).lister
                for resource in (SERVICES, REPLICATION_CONTROLLERS, REPLICA_SETS, STATEFUL_SETS)
            )
        )


def default_selector(pod: Object, listers: WorkloadListers | None) -> Selector:
    """The merged selector (EVERYTHING, i.e. empty, when nothing selects the pod)."""
    if listers is None:
        return EVERYTHING
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    merged = _services_labels(listers.services, namespace, meta.get("labels") or {})
    owner = controller_of(pod)
    if owner is None:
        return selector_from_set(merged)
    kind = (owner.get("apiVersion"), owner.get("kind"))
    name = owner.get("name") or ""
    if kind == ("v1", "ReplicationController"):
        controller = listers.replication_controllers.get(name, namespace)
        if controller is not None:
            merged = {**merged, **((controller.get("spec") or {}).get("selector") or {})}
        return selector_from_set(merged)
    lister = _label_selector_workloads(listers).get(kind)
    workload = lister.get(name, namespace) if lister is not None else None
    return _with_workload(selector_from_set(merged), workload)


def _label_selector_workloads(listers: WorkloadListers) -> dict[tuple[Any, Any], Lister]:
    """The controllers whose selector is a LabelSelector, by (apiVersion, kind)."""
    return {
        ("apps/v1", "ReplicaSet"): listers.replica_sets,
        ("apps/v1", "StatefulSet"): listers.stateful_sets,
    }


def _services_labels(services: Lister, namespace: str, labels: Mapping[str, str]) -> dict[str, str]:
    """The union of the selectors of the namespace's Services that select ``labels``."""
    merged: dict[str, str] = {}
    for service in services.list(namespace):
        selector = (service.get("spec") or {}).get("selector")
        if selector is not None and selector_from_set(selector).matches(labels):
            merged.update(selector)
    return merged


def _with_workload(selector: Selector, workload: Object | None) -> Selector:
    """``selector`` ANDed with a ReplicaSet's or StatefulSet's label selector
    (a missing one, which selects nothing, adds nothing, as upstream)."""
    if workload is None:
        return selector
    theirs = selector_from_label_selector((workload.get("spec") or {}).get("selector"))
    if theirs.nothing:
        return selector
    return Selector([*selector.requirements, *theirs.requirements])
