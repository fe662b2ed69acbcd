"""A write through the status of a Deployment, ReplicaSet, StatefulSet or DaemonSet is
checked by upstream's rules of its status update, worded as upstream words them."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.api.validation.semantic import validate_update
from tests.unit.api.test_validation_semantic import messages


def workload(**status: Any) -> dict[str, Any]:
    """A workload whose spec would fail a whole update (no selector, no template): a
    status write never judges the spec, which its strategy has put back as stored."""
    metadata = {"name": "w", "namespace": "default", "resourceVersion": "1", "uid": "u"}
    return {"metadata": metadata, "spec": {}, "status": status}


def errors(kind: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    before = old if old is not None else workload()
    return messages(validate_update("apps", "v1", kind, new, before, subresource="status"))


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_a_sound_status_passes_without_its_spec_being_judged(kind: str) -> None:
    assert errors(kind, workload(replicas=3, readyReplicas=2, availableReplicas=1)) == []


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (
            "Deployment",
            {"replicas": 1, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2},
            [
                "status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas",
                "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than"
                " status.replicas",
            ],
        ),
        (
            "Deployment",
            {"replicas": 2, "readyReplicas": 1, "availableReplicas": 2, "unavailableReplicas": -1},
            [
                "status.unavailableReplicas: Invalid value: -1: must be greater than or equal to 0",
                "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas",
            ],
        ),
        (
            "ReplicaSet",
            {"replicas": 1, "fullyLabeledReplicas": 2, "observedGeneration": -1},
            [
                "status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
                "status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than"
                " status.replicas",
            ],
        ),
        (
            "StatefulSet",
            {"replicas": 1, "currentReplicas": 2, "readyReplicas": 1, "availableReplicas": 2},
            [
                "status.currentReplicas: Invalid value: 2: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than"
                " status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than"
                " status.readyReplicas",
            ],
        ),
        (
            "DaemonSet",
            {"numberReady": -1, "collisionCount": -2},
            [
                "status.numberReady: Invalid value: -1: must be greater than or equal to 0",
                "status.collisionCount: Invalid value: -2: must be greater than or equal to 0",
            ],
        ),
    ],
)
def test_counts_are_never_negative_and_parts_never_more_than_the_whole(
    kind: str, status: dict[str, Any], expected: list[str]
) -> None:
    assert errors(kind, workload(**status)) == expected


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_the_collision_count_never_goes_down(kind: str) -> None:
    before = workload(collisionCount=2)
    assert errors(kind, workload(collisionCount=3), before) == []
    assert errors(kind, workload(collisionCount=1), before) == [
        "status.collisionCount: Invalid value: 1: cannot be decremented"
    ]
    assert errors(kind, workload(), before) == [
        "status.collisionCount: Invalid value: 0: cannot be decremented"
    ]


def test_a_statefulsets_status_errors_come_before_its_metadatas_as_upstream_lists_them() -> None:
    new = workload(observedGeneration=-1)
    new["metadata"] = {**new["metadata"], "uid": "changed"}
    assert errors("StatefulSet", new) == [
        "status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
        'metadata.uid: Invalid value: "changed": field is immutable',
    ]
    assert errors("Deployment", new)[0].startswith("metadata.uid")


def test_an_absent_count_is_zero_as_in_go() -> None:
    """A negative replicas makes every part, even an absent (zero) one, more than it."""
    assert errors("ReplicaSet", workload(replicas=-1)) == [
        "status.replicas: Invalid value: -1: must be greater than or equal to 0",
        "status.fullyLabeledReplicas: Invalid value: 0: cannot be greater than status.replicas",
        "status.readyReplicas: Invalid value: 0: cannot be greater than status.replicas",
        "status.availableReplicas: Invalid value: 0: cannot be greater than status.replicas",
    ]
