"""Pod states every component judges alike: finished, active, ready."""

from __future__ import annotations

from typing import Any

from pynetes.api.conditions import find_condition

Object = dict[str, Any]


def pod_containers(spec: Object) -> list[Object]:
    """Every container of a pod spec, as upstream's VisitContainers walks them: init
    containers, then containers, then ephemeral containers."""
    return [
        container
        for key in ("initContainers", "containers", "ephemeralContainers")
        for container in spec.get(key) or ()
    ]


def is_terminal(pod: Object) -> bool:
    """The pod has Succeeded or Failed: its containers will not run again."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Object) -> bool:
    """Not terminal and not being deleted: the pod counts towards replicas."""
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: Object) -> Object | None:
    return find_condition((pod.get("status") or {}).get("conditions"), "Ready")


def is_ready(pod: Object) -> bool:
    """upstream's IsPodReady: the Ready condition is True."""
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def qos_class(pod: Object) -> str:
    """Guaranteed, Burstable or BestEffort, from requests and limits (upstream GetPodQOS)."""
    containers = [
        *((pod.get("spec") or {}).get("containers") or []),
        *((pod.get("spec") or {}).get("initContainers") or []),
    ]
    requests_seen = limits_seen = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {
            k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")
        }
        limits = {
            k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")
        }
        requests_seen = requests_seen or bool(requests)
        limits_seen = limits_seen or bool(limits)
        if set(limits) != {"cpu", "memory"}:
            guaranteed = False
        if any(requests.get(name, limits.get(name)) != limits.get(name) for name in limits):
            guaranteed = False
        if any(name not in limits for name in requests):
            guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed and limits_seen else "Burstable"
