"""What the scheduler knows of one node: the Node, its pods, what they request.

Requested amounts are kept incrementally as pods come and go, so a filter
reads them in O(1). ``non_zero_requested`` counts best-effort containers at
the scoring defaults (see :mod:`.resources`). ``generation`` grows with every
change, so a snapshot can copy only the nodes that changed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from pynetes.scheduler.framework.affinity_terms import PodTerms
from pynetes.scheduler.framework.images import ImageState
from pynetes.scheduler.framework.resources import Resource, pod_requests

Object = dict[str, Any]

_generations = itertools.count(1)


def next_generation() -> int:
    """A number larger than every one handed out before (process-wide, as upstream's)."""
    return next(_generations)


def pod_key(pod: Object) -> str:
    """The pod's UID, its identity across renames and recreations; namespace/name without one."""
    meta = pod.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def pod_priority(pod: Object) -> int:
    """``spec.priority`` (set from the PriorityClass at admission), 0 without one."""
    return (pod.get("spec") or {}).get("priority") or 0


@dataclass(frozen=True)
class HostPort:
    """One host port a pod uses: ``ip`` "0.0.0.0" means every address."""

    ip: str
    protocol: str
    port: int


@dataclass
class PodInfo:
    """A pod with what it requests and its pod affinity terms computed once,
    when it enters the cache, not in every cycle that looks at it."""

    pod: Object
    requests: Resource
    non_zero_requests: Resource
    affinity_terms: PodTerms

    @classmethod
    def of(cls, pod: Object) -> PodInfo:
        return cls(pod, pod_requests(pod), pod_requests(pod, non_zero=True), PodTerms.of(pod))


@dataclass
class NodeInfo:
    """A node (None while only its pods are known) and the pods bound or assumed to it."""

    node: Object | None = None
    pods: dict[str, PodInfo] = field(default_factory=dict)
    requested: Resource = field(default_factory=Resource)
    non_zero_requested: Resource = field(default_factory=Resource)
    allocatable: Resource = field(default_factory=Resource)
    used_ports: dict[HostPort, int] = field(default_factory=dict)
    #: How many of the pods have any pod (anti-)affinity, and how many a required
    #: anti-affinity: InterPodAffinity looks only at nodes where these are non-zero.
    pods_with_affinity: int = 0
    pods_with_required_anti_affinity: int = 0
    #: The node's images by name, states shared across nodes (see :mod:`.images`);
    #: the cache replaces the dict when the Node changes, never mutates it.
    image_states: dict[str, ImageState] = field(default_factory=dict)
    generation: int = field(default_factory=next_generation)
    #: The Node's name, kept since :meth:`set_node`: filters read it per node.
    name: str = ""

    def set_node(self, node: Object) -> None:
        self.node = node
        self.name = (node.get("metadata") or {}).get("name", "")
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self.generation = next_generation()

    def add_pod(self, pod: Object) -> None:
        self.add_pod_info(PodInfo.of(pod))

    def add_pod_info(self, info: PodInfo) -> None:
        key = pod_key(info.pod)
        if key in self.pods:
            self.remove_pod(info.pod)
        self.pods[key] = info
        self.requested.add(info.requests)
        self.non_zero_requested.add(info.non_zero_requests)
        for port in host_ports(info.pod):
            self.used_ports[port] = self.used_ports.get(port, 0) + 1
        self._count_affinity(info.pod, 1)
        self.generation = next_generation()

    def remove_pod(self, pod: Object) -> bool:
        """Forget ``pod``; False if it was not here."""
        info = self.pods.pop(pod_key(pod), None)
        if info is None:
            return False
        self.requested.subtract(info.requests)
        self.non_zero_requested.subtract(info.non_zero_requests)
        for port in host_ports(info.pod):
            left = self.used_ports.get(port, 0) - 1
            if left > 0:
                self.used_ports[port] = left
            else:
                self.used_ports.pop(port, None)
        self._count_affinity(info.pod, -1)
        self.generation = next_generation()
        return True

    def _count_affinity(self, pod: Object, delta: int) -> None:
        affinity = (pod.get("spec") or {}).get("affinity") or {}
        if affinity.get("podAffinity") or affinity.get("podAntiAffinity"):
            self.pods_with_affinity += delta
        anti = affinity.get("podAntiAffinity") or {}
        if anti.get("requiredDuringSchedulingIgnoredDuringExecution"):
            self.pods_with_required_anti_affinity += delta

    def copy(self) -> NodeInfo:
        """A copy whose counters and pod map may change without touching this one
        (the Node and pod objects themselves are shared, never changed)."""
        return NodeInfo(
            node=self.node,
            pods=dict(self.pods),
            requested=self.requested.copy(),
            non_zero_requested=self.non_zero_requested.copy(),
            allocatable=self.allocatable.copy(),
            used_ports=dict(self.used_ports),
            pods_with_affinity=self.pods_with_affinity,
            pods_with_required_anti_affinity=self.pods_with_required_anti_affinity,
            image_states=self.image_states,
            generation=self.generation,
            name=self.name,
        )


def host_ports(pod: Object) -> list[HostPort]:
    """The host ports ``pod``'s containers ask for (init containers' too, as upstream)."""
    spec = pod.get("spec") or {}
    ports = []
    for container in itertools.chain(
        spec.get("initContainers") or [], spec.get("containers") or []
    ):
        for port in container.get("ports") or []:
            number = port.get("hostPort") or 0
            if number > 0:
                ip = port.get("hostIP") or "0.0.0.0"
                ports.append(HostPort(ip, port.get("protocol") or "TCP", number))
    return ports
