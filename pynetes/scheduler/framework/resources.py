"""Resource amounts as the scheduler counts them: milli-CPU, bytes, pod slots,
and extended ("scalar") resources, as upstream's framework.Resource.

A pod's request is what it needs while running: the larger of its regular
containers' sum and each init container's own request (init containers run
one at a time), plus sidecars (init containers with restartPolicy Always,
which keep running), plus the pod's overhead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pynetes.api.quantity import QuantityError, parse_json_quantity

Object = dict[str, Any]

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

#: What scoring assumes of a container that requests no CPU or memory
#: (upstream's DefaultMilliCPURequest and DefaultMemoryRequest): without it,
#: best-effort pods would all pile onto one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@dataclass
class Resource:
    """Amounts of each resource; ``scalar`` holds extended resources and hugepages."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resource:
        """The amounts of a ResourceList (``{"cpu": "2", "memory": "1Gi", ...}``).

        An amount that does not parse counts as 0 (the API server validated it).
        """
        result = cls()
        for name, value in (resources or {}).items():
            result.add_named(name, value)
        return result

    def add_named(self, name: str, value: Any) -> None:
        amount = _amount(name, value) if isinstance(value, str | int) else _parse(name, value)
        if amount is None:
            return
        if name == CPU:
            self.milli_cpu += amount
        elif name == MEMORY:
            self.memory += amount
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage += amount
        elif name == PODS:
            self.allowed_pods += amount
        elif is_scalar_resource(name):
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def get(self, name: str) -> int:
        """The amount of ``name`` (milli-units for cpu)."""
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pods
        return self.scalar.get(name, 0)

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pods += other.allowed_pods
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def subtract(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        self.allowed_pods -= other.allowed_pods
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) - amount

    def set_max(self, other: Resource) -> None:
        """Each amount becomes the larger of this one's and ``other``'s."""
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.allowed_pods = max(self.allowed_pods, other.allowed_pods)
        for name, amount in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), amount)

    def copy(self) -> Resource:
        return Resource(
            self.milli_cpu,
            self.memory,
            self.ephemeral_storage,
            self.allowed_pods,
            dict(self.scalar),
        )

    def is_zero(self) -> bool:
        return (
            self.milli_cpu == 0
            and self.memory == 0
            and self.ephemeral_storage == 0
            and not any(self.scalar.values())
        )


def _parse(name: str, value: Any) -> int | None:
    """The amount of ``value`` (milli-units for cpu); None if it does not parse."""
    try:
        quantity = parse_json_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return None
    return quantity.milli_value() if name == CPU else quantity.value()


#: :func:`_parse` for the few distinct amounts a cluster's pods and nodes use:
#: every cycle reads a pod's requests, and parsing them dominated it.
_amount = functools.lru_cache(maxsize=4096)(_parse)


def is_scalar_resource(name: str) -> bool:
    """Extended resources (``example.com/gpu``), hugepages and attachable volumes:
    the names a node advertises beyond the native ones; ``requests.*`` quota
    names and the ``kubernetes.io/`` namespace (other than hugepages) are not."""
    if name.startswith("hugepages-") or name.startswith("attachable-volumes-"):
        return True
    if "/" not in name:
        return False
    prefix = name.split("/", 1)[0]
    return not (prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io"))


def pod_requests(pod: Object, *, non_zero: bool = False) -> Resource:
    """What ``pod`` asks of a node, by upstream's rule (see the module's docstring).

    ``non_zero`` substitutes the scoring defaults for CPU and memory a
    container leaves unset, as upstream's NonZeroRequested.
    """
    spec = pod.get("spec") or {}
    total = Resource()
    for container in spec.get("containers") or []:
        total.add(_container_requests(container, non_zero))
    sidecars = Resource()
    init_peak = Resource()
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container, non_zero)
        if container.get("restartPolicy") == "Always":
            sidecars.add(requests)
            total.add(requests)
            continue
        requests.add(sidecars)
        init_peak.set_max(requests)
    total.set_max(init_peak)
    total.add(Resource.from_list(spec.get("overhead")))
    return total


def _container_requests(container: Object, non_zero: bool) -> Resource:
    requests = Resource.from_list((container.get("resources") or {}).get("requests"))
    if non_zero:
        declared = (container.get("resources") or {}).get("requests") or {}
        if CPU not in declared:
            requests.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if MEMORY not in declared:
            requests.memory = DEFAULT_MEMORY_REQUEST
    return requests
