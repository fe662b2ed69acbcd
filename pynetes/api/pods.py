"""Pod states every component judges alike: finished, active, ready."""

from __future__ import annotations

from typing import Any

from pynetes.api.conditions import find_condition

Object = dict[str, Any]


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
