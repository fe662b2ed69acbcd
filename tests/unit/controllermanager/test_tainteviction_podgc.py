"""The rules of the taint eviction controller and the pod garbage collector."""

from __future__ import annotations

import math

from pynetes.controllermanager.controllers.podgc import deletion_order, is_terminated
from pynetes.controllermanager.controllers.tainteviction import toleration_time

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
DEDICATED = {"key": "dedicated", "value": "db", "effect": "NoExecute"}


def tolerate(key: str, seconds: int | None = None) -> dict:
    toleration = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    return toleration if seconds is None else {**toleration, "tolerationSeconds": seconds}


def test_the_least_toleration_of_the_taints_counts() -> None:
    assert toleration_time([], []) is None
    assert toleration_time([UNREACHABLE], []) == 0
    assert toleration_time([UNREACHABLE], [tolerate(UNREACHABLE["key"])]) == math.inf
    both = [tolerate(UNREACHABLE["key"], 300), tolerate("dedicated", 60)]
    assert toleration_time([UNREACHABLE, DEDICATED], both) == 60
    assert toleration_time([UNREACHABLE, DEDICATED], both[:1]) == 0  # one not tolerated
    assert toleration_time([UNREACHABLE], [tolerate(UNREACHABLE["key"], -5)]) == 0
    everything = {"operator": "Exists"}
    assert toleration_time([UNREACHABLE, DEDICATED], [everything]) == math.inf


def pod(name: str, created: str, phase: str, reason: str | None = None) -> dict:
    status = {"phase": phase} if reason is None else {"phase": phase, "reason": reason}
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def test_terminated_pods_go_evicted_first_then_oldest_then_by_name() -> None:
    pods = [
        pod("late", "2024-01-02T00:00:00Z", "Succeeded"),
        pod("b", "2024-01-01T00:00:00Z", "Failed"),
        pod("a", "2024-01-01T00:00:00Z", "Succeeded"),
        pod("evicted", "2024-01-03T00:00:00Z", "Failed", "Evicted"),
    ]
    assert [p["metadata"]["name"] for p in sorted(pods, key=deletion_order)] == [
        "evicted", "a", "b", "late",
    ]  # fmt: skip
    assert is_terminated(pods[0]) and is_terminated(pods[1])
    assert not any(
        is_terminated(pod("x", "", phase)) for phase in ("Pending", "Running", "Unknown")
    )
