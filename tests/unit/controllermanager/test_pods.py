"""Pod states and the order controllers delete pods in."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from pynetes.api.meta import timestamp
from pynetes.api.pods import is_active
from pynetes.controllermanager.common.podcontrol import pod_from_template, slow_start_batches
from pynetes.controllermanager.common.pods import available_in, deletion_order, is_available

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pod(
    name: str,
    *,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 100.0,
    restarts: int = 0,
    age: float = 1000.0,
    cost: int | None = None,
) -> dict:
    conditions = []
    if ready_for is not None:
        since = timestamp(NOW - timedelta(seconds=ready_for))
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": since})
    annotations = {} if cost is None else {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": timestamp(NOW - timedelta(seconds=age)),
            "annotations": annotations,
        },
        "spec": {"nodeName": node},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


def order(*pods: dict) -> list[str]:
    return [p["metadata"]["name"] for p in deletion_order(list(pods), NOW)]


def test_unscheduled_then_pending_then_not_ready_go_first() -> None:
    running = pod("running", node="a")
    not_ready = pod("not-ready", node="b", ready_for=None)
    pending = pod("pending", node="c", phase="Pending", ready_for=None)
    unscheduled = pod("unscheduled", node="", phase="Pending", ready_for=None)
    assert order(running, not_ready, pending, unscheduled) == [
        "unscheduled",
        "pending",
        "not-ready",
        "running",
    ]


def test_cost_then_doubled_up_nodes_then_recently_ready_then_restarts_then_newer() -> None:
    assert order(pod("dear", node="a", cost=10), pod("cheap", node="b", cost=-5)) == [
        "cheap",
        "dear",
    ]
    crowded = [pod("crowded-1", node="a"), pod("crowded-2", node="a")]
    assert order(pod("alone", node="b"), *crowded)[-1] == "alone"
    assert order(pod("old", node="a", ready_for=5000), pod("fresh", node="b", ready_for=3)) == [
        "fresh",
        "old",
    ]
    assert order(pod("calm", node="a"), pod("crashy", node="b", restarts=7)) == ["crashy", "calm"]
    assert order(pod("older", node="a", age=900), pod("newer", node="b", age=800)) == [
        "newer",
        "older",
    ]


def test_active_and_available() -> None:
    assert is_active(pod("p"))
    assert not is_active(pod("p", phase="Succeeded"))
    deleting = pod("p")
    deleting["metadata"]["deletionTimestamp"] = timestamp(NOW)
    assert not is_active(deleting)
    assert is_available(pod("p", ready_for=30), 10, NOW)
    assert not is_available(pod("p", ready_for=5), 10, NOW)
    assert not is_available(pod("p", ready_for=None), 0, NOW)


def test_pod_from_template_is_controlled_by_its_owner() -> None:
    owner = {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1"}}
    template = {
        "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    made = pod_from_template(template, owner, "apps/v1", "ReplicaSet")
    assert made["metadata"]["generateName"] == "web-"
    assert made["metadata"]["namespace"] == "ns"
    assert made["metadata"]["labels"] == {"app": "web"}
    assert made["metadata"]["annotations"] == {"a": "b"}
    [reference] = made["metadata"]["ownerReferences"]
    assert reference == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    made["spec"]["containers"][0]["image"] = "changed"
    assert template["spec"]["containers"][0]["image"] == "nginx", "the template is not shared"


def test_slow_start_doubles_batches_and_stops_at_the_first_failing_batch() -> None:
    calls: list[int] = []

    async def create() -> None:
        calls.append(len(calls))
        if len(calls) > 5:
            raise RuntimeError("quota")

    done, failure = asyncio.run(slow_start_batches(100, create))
    # batches 1, 2, 4: the third batch has the sixth and seventh calls, which fail
    assert len(calls) == 7
    assert done == 5
    assert isinstance(failure, RuntimeError)
    calls.clear()
    assert asyncio.run(slow_start_batches(0, create)) == (0, None)


def test_doubled_up_nodes_count_the_related_pods_when_given() -> None:
    mine = [pod("on-a", node="a"), pod("on-b", node="b")]
    sibling_pods = [pod("sibling-1", node="b"), pod("sibling-2", node="b")]
    gone = pod("sibling-deleting", node="a")
    gone["metadata"]["deletionTimestamp"] = timestamp(NOW)
    related = [*mine, *sibling_pods, gone, gone, gone]
    ranked = deletion_order(mine, NOW, related)
    assert [p["metadata"]["name"] for p in ranked] == ["on-b", "on-a"], "only active pods count"
    alone = [pod("older", node="a", age=900), pod("newer", node="b", age=800)]
    assert deletion_order(alone, NOW, [])[0]["metadata"]["name"] == "newer"


def test_available_in_counts_down_from_the_ready_transition() -> None:
    assert available_in(pod("p", ready_for=None), 10, NOW) is None
    assert available_in(pod("p", ready_for=4), 0, NOW) == 0.0
    assert available_in(pod("p", ready_for=4), 10, NOW) == 6.0
    assert available_in(pod("p", ready_for=40), 10, NOW) == 0.0
    unknown = pod("p")
    del unknown["status"]["conditions"][0]["lastTransitionTime"]
    assert available_in(unknown, 10, NOW) == math.inf
    assert available_in(unknown, 0, NOW) == 0.0
