"""The disruption controller's arithmetic, case by case (the API-level tests cover the flow)."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.api.conditions import set_status_condition
from pynetes.controllermanager.controllers.disruption import (
    Computed,
    count_healthy,
    desired_and_expected,
    live_disruptions,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def pod(name: str, *, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2023-11-14T22:13:00Z"
    status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": metadata, "status": status}


@pytest.mark.parametrize(
    ("spec", "pods", "scale", "expected"),
    [
        ({"minAvailable": 2}, 5, None, (2, 5)),
        ({"minAvailable": "50%"}, 2, 5, (3, 5)),
        ({"maxUnavailable": 1}, 2, 5, (4, 5)),
        ({"maxUnavailable": "10%"}, 5, 5, (4, 5)),
        ({"maxUnavailable": 7}, 5, 5, (0, 5)),
        ({"maxUnavailable": "100%"}, 0, 0, (0, 0)),
        ({}, 3, None, (0, 0)),
    ],
)
def test_desired_and_expected(
    spec: dict[str, Any], pods: int, scale: int | None, expected: tuple[int, int]
) -> None:
    assert desired_and_expected(spec, [pod(f"p{i}") for i in range(pods)], scale) == expected


def test_healthy_pods_are_ready_not_deleting_and_not_just_evicted() -> None:
    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d")]
    assert count_healthy(pods, {}) == 2
    assert count_healthy(pods, {"d": "2023-11-14T22:13:00Z"}) == 1


def test_evictions_expire_after_two_minutes_or_once_the_pod_goes() -> None:
    recorded = {
        "fresh": "2023-11-14T22:13:00Z",  # 20 s ago
        "stale": "2023-11-14T22:11:00Z",  # 140 s ago
        "deleting": "2023-11-14T22:13:00Z",
        "gone": "2023-11-14T22:13:00Z",
    }
    pods = [pod("fresh"), pod("stale"), pod("deleting", deleting=True), pod("other")]
    kept, recheck_at = live_disruptions(recorded, pods, NOW)
    assert kept == {"fresh": "2023-11-14T22:13:00Z"}
    assert recheck_at == NOW - 20 + 120


@pytest.mark.parametrize(
    ("healthy", "desired", "expected", "allowed"),
    [(3, 2, 3, 1), (2, 2, 3, 0), (1, 2, 3, 0), (2, 0, 0, 0)],
)
def test_disruptions_allowed_never_negative_and_none_without_expected_pods(
    healthy: int, desired: int, expected: int, allowed: int
) -> None:
    computed = Computed(healthy, desired, expected, {})
    assert computed.disruptions_allowed == allowed


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    conditions: list[dict[str, Any]] = []
    base = {"type": "DisruptionAllowed", "message": "", "observedGeneration": 1}
    set_status_condition(conditions, {**base, "status": "True", "reason": "A"}, "t1")
    set_status_condition(conditions, {**base, "status": "True", "reason": "B"}, "t2")
    assert (conditions[0]["reason"], conditions[0]["lastTransitionTime"]) == ("B", "t1")
    set_status_condition(conditions, {**base, "status": "False", "reason": "C"}, "t3")
    assert (len(conditions), conditions[0]["lastTransitionTime"]) == (1, "t3")
