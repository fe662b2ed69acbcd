"""What each quota name tracks and what an object uses of it (upstream's quota evaluators).

A quota name belongs to the objects of one resource:

- pods: ``pods``, ``cpu``/``memory``/``ephemeral-storage`` (requests),
  ``requests.*``, ``limits.*``, ``hugepages-*``, extended
  ``requests.<domain>/<name>``; compute use counts only for pods not yet
  finished (and not stuck past their deletion grace period);
- services: ``services``, ``services.nodeports``, ``services.loadbalancers``;
- persistentvolumeclaims: ``persistentvolumeclaims``, ``requests.storage``
  and their per-StorageClass forms;
- configmaps, secrets, replicationcontrollers, resourcequotas: their count;
- ``count/<resource>[.<group>]``: every object of any namespaced resource.

Scopes (``Terminating``, ``NotTerminating``, ``BestEffort``,
``NotBestEffort``, ``PriorityClass`` and scopeSelector expressions) select
pods; a scoped quota selects no other object, as upstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynetes.api import meta
from pynetes.quota.amounts import ONE, Amounts, add, count, parse_list, raise_to

Object = dict[str, Any]


@dataclass(frozen=True)
class Tracked:
    """The resource whose objects a quota name counts: ``group`` and ``plural``."""

    group: str
    plural: str

    @property
    def count_name(self) -> str:
        """Its ``count/`` quota name (``count/pods``, ``count/deployments.apps``)."""
        return f"count/{self.plural}.{self.group}" if self.group else f"count/{self.plural}"


PODS = Tracked("", "pods")
SERVICES = Tracked("", "services")
CLAIMS = Tracked("", "persistentvolumeclaims")
#: Core resources whose plain name is a count of their objects.
COUNTED = frozenset({"configmaps", "secrets", "replicationcontrollers", "resourcequotas"})

_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_POD_NAMES = frozenset(
    {"pods", *_COMPUTE}
    | {f"requests.{name}" for name in _COMPUTE}
    | {f"limits.{name}" for name in _COMPUTE}
)
_HUGEPAGES = "hugepages-"
_STORAGE_CLASS = ".storageclass.storage.k8s.io/"


def tracked_by(name: str) -> Tracked | None:
    """The resource the quota name ``name`` counts, or None for a name no evaluator knows."""
    if name.startswith("count/"):
        plural, _, group = name.removeprefix("count/").partition(".")
        return Tracked(group, plural) if plural else None
    if name in _POD_NAMES or name.startswith((_HUGEPAGES, f"requests.{_HUGEPAGES}")):
        return PODS
    if _is_extended_request(name):
        return PODS
    if name in ("services", "services.nodeports", "services.loadbalancers"):
        return SERVICES
    if name in ("persistentvolumeclaims", "requests.storage") or _STORAGE_CLASS in name:
        return CLAIMS
    if name in COUNTED:
        return Tracked("", name)
    return None


def _is_extended_request(name: str) -> bool:
    """``requests.<domain>/<name>`` outside kubernetes.io: upstream's extended resources."""
    if not name.startswith("requests."):
        return False
    resource = name.removeprefix("requests.")
    domain = resource.partition("/")[0]
    return "/" in resource and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def usage(tracked: Tracked, obj: Object, now: datetime) -> Amounts:
    """What ``obj`` (of ``tracked``) uses, by quota name."""
    used: Amounts = {tracked.count_name: ONE}
    if tracked == PODS:
        add(used, pod_usage(obj, now))
    elif tracked == SERVICES:
        add(used, _service_usage(obj))
    elif tracked == CLAIMS:
        add(used, _claim_usage(obj))
    elif not tracked.group and tracked.plural in COUNTED:
        used[tracked.plural] = ONE
    return used


# -- pods ---------------------------------------------------------------------


def counts_for_compute(pod: Object, now: datetime) -> bool:
    """upstream's QuotaV1Pod: not finished, and not stuck past its deletion grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    metadata = pod.get("metadata") or {}
    deletion = meta.parse_timestamp(metadata.get("deletionTimestamp") or "")
    grace = metadata.get("deletionGracePeriodSeconds")
    if deletion is not None and grace is not None:
        return now.timestamp() <= deletion.timestamp() + grace
    return True


def pod_usage(pod: Object, now: datetime) -> Amounts:
    """The pod's ``pods`` and compute use (nothing once it no longer counts)."""
    if not counts_for_compute(pod, now):
        return {}
    return compute_usage(
        pod_amounts(pod, "requests", overhead_adds_new=True),
        pod_amounts(pod, "limits", overhead_adds_new=False),
    )


def compute_usage(requests: Amounts, limits: Amounts) -> Amounts:
    """Quota names used by these requests and limits (upstream's podComputeUsageHelper)."""
    used: Amounts = {"pods": ONE}
    for name in _COMPUTE:
        if name in requests:
            used[name] = used[f"requests.{name}"] = requests[name]
        if name in limits:
            used[f"limits.{name}"] = limits[name]
    for name, quantity in requests.items():
        if name.startswith(_HUGEPAGES):
            used[name] = used[f"requests.{name}"] = quantity
        elif _is_extended_request(f"requests.{name}"):
            used[f"requests.{name}"] = quantity
    return used


def container_usage(container: Object) -> Amounts:
    """Quota names one container's own requests and limits state."""
    return compute_usage(
        _container_amounts(container, "requests"), _container_amounts(container, "limits")
    )


def pod_amounts(pod: Object, kind: str, *, overhead_adds_new: bool) -> Amounts:
    """The pod's total ``requests`` or ``limits`` (upstream's PodRequests / PodLimits).

    Regular containers and sidecars (init containers with restartPolicy
    Always) add up; each other init container runs alone, with the sidecars
    started before it, so the total is at least that. Overhead adds to
    requests, and to the limits the pod already has.
    """
    spec = pod.get("spec") or {}
    total: Amounts = {}
    for container in spec.get("containers") or ():
        add(total, _container_amounts(container, kind))
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for container in spec.get("initContainers") or ():
        own = _container_amounts(container, kind)
        if container.get("restartPolicy") == "Always":
            add(total, own)
            add(sidecars, own)
            running = dict(sidecars)
        else:
            running = dict(own)
            add(running, sidecars)
        raise_to(init_peak, running)
    raise_to(total, init_peak)
    overhead = parse_list(spec.get("overhead"))
    if not overhead_adds_new:
        overhead = {name: q for name, q in overhead.items() if name in total}
    add(total, overhead)
    return total


def _container_amounts(container: Object, kind: str) -> Amounts:
    return parse_list((container.get("resources") or {}).get(kind))


def is_best_effort(pod: Object) -> bool:
    """The pod's QoS class is BestEffort (the one the API server stored, else computed)."""
    stored = (pod.get("status") or {}).get("qosClass")
    if stored:
        return stored == "BestEffort"
    spec = pod.get("spec") or {}
    for container in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            if any(name in ("cpu", "memory") for name in resources.get(kind) or {}):
                return False
    return True


def _is_terminating(pod: Object) -> bool:
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return isinstance(deadline, int) and deadline >= 0


def pod_matches_scope(pod: Object, requirement: Mapping[str, Any]) -> bool:
    """Whether the pod falls in one scope requirement (scopeName, operator, values)."""
    scope = requirement.get("scopeName")
    if scope == "Terminating":
        return _is_terminating(pod)
    if scope == "NotTerminating":
        return not _is_terminating(pod)
    if scope == "BestEffort":
        return is_best_effort(pod)
    if scope == "NotBestEffort":
        return not is_best_effort(pod)
    if scope == "PriorityClass":
        return _priority_matches(pod, requirement)
    return False


def _priority_matches(pod: Object, requirement: Mapping[str, Any]) -> bool:
    """As upstream: the class name is a label ``PriorityClass`` every pod has (maybe empty)."""
    name = (pod.get("spec") or {}).get("priorityClassName") or ""
    operator = requirement.get("operator") or "Exists"
    values = requirement.get("values") or ()
    if operator == "Exists":
        return bool(name)
    if operator == "In":
        return name in values
    if operator == "NotIn":
        return name not in values
    return False  # DoesNotExist: the label is always there


# -- services and claims ------------------------------------------------------


def _service_usage(service: Object) -> Amounts:
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    used: Amounts = {"services": ONE}
    kind = spec.get("type")
    if kind == "NodePort":
        used["services.nodeports"] = count(len(ports))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            node_ports = sum(1 for port in ports if port.get("nodePort"))
        else:
            node_ports = len(ports)
        used["services.nodeports"] = count(node_ports)
        used["services.loadbalancers"] = ONE
    return used


def _claim_usage(claim: Object) -> Amounts:
    spec = claim.get("spec") or {}
    used: Amounts = {"persistentvolumeclaims": ONE}
    storage = parse_list((spec.get("resources") or {}).get("requests")).get("storage")
    if storage is not None:
        used["requests.storage"] = storage
    storage_class = spec.get("storageClassName") or (
        (claim.get("metadata") or {}).get("annotations") or {}
    ).get("volume.beta.kubernetes.io/storage-class")
    if storage_class:
        prefix = f"{storage_class}{_STORAGE_CLASS}"
        used[f"{prefix}persistentvolumeclaims"] = ONE
        if storage is not None:
            used[f"{prefix}requests.storage"] = storage
    return used


# -- quotas -------------------------------------------------------------------


def scope_requirements(quota: Object) -> list[Mapping[str, Any]]:
    """The quota's scopes and scopeSelector expressions, as requirements all must meet."""
    spec = quota.get("spec") or {}
    requirements: list[Mapping[str, Any]] = [
        {"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or ()
    ]
    requirements.extend((spec.get("scopeSelector") or {}).get("matchExpressions") or ())
    return requirements


def selected(tracked: Tracked, obj: Object, requirements: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a quota with these scope requirements counts ``obj``."""
    requirements = list(requirements)
    if not requirements:
        return True
    if tracked != PODS:
        return False
    return all(pod_matches_scope(obj, requirement) for requirement in requirements)
