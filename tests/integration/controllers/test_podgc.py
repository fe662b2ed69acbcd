"""The pod garbage collector against the real API server.

Its 20 s period runs on the controller manager's monotonic clock, a fake
one here that the tests move on. Pods that must be seen after their
deletion carry a finalizer, so they stay with a deletionTimestamp.
"""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.conftest import FakeClock
from tests.integration.controllers.harness import eventually, running_controllers

Object = dict[str, Any]

NODES = built_in("", "v1", "nodes")
PODS = built_in("", "v1", "pods")
KEEP = "example.com/keep"


async def create_pod(
    api: ApiClient, name: str, *, node: str | None = None, phase: str | None = None, **status: Any
) -> Object:
    spec: Object = {"containers": [{"name": "c", "image": "nginx:1"}]}
    if node is not None:
        spec["nodeName"] = node
    created = await api.create(
        PODS, {"metadata": {"name": name, "finalizers": [KEEP]}, "spec": spec}, namespace="default"
    )
    if phase is not None:
        patch = {"status": {"phase": phase, **status}}
        return await api.patch(PODS, name, patch, namespace="default", subresource="status")
    return created


async def terminating_unscheduled(api: ApiClient, name: str) -> None:
    await create_pod(api, name)
    await api.delete(PODS, name, namespace="default")


async def phase(api: ApiClient, name: str) -> str | None:
    try:
        pod = await api.get(PODS, name, namespace="default")
    except errors.NotFound:
        return None
    return pod["status"].get("phase")


async def failed(api: ApiClient, name: str) -> bool:
    return await phase(api, name) == "Failed"


async def deleted(api: ApiClient, name: str) -> bool:
    pod = await api.get(PODS, name, namespace="default")
    return bool(pod["metadata"].get("deletionTimestamp"))


async def test_terminated_pods_beyond_the_threshold_go_evicted_then_oldest_first(
    api: ApiClient,
) -> None:
    for name in ("a-succeeded", "b-failed", "c-succeeded"):
        await create_pod(api, name, phase=name.split("-")[1].capitalize())
    await create_pod(api, "d-evicted", phase="Failed", reason="Evicted")
    await create_pod(api, "e-running", phase="Running")
    async with running_controllers(api, "podgc", terminated_pod_gc_threshold=2) as manager:
        await eventually(lambda: deleted(api, "a-succeeded"))
        await eventually(lambda: deleted(api, "d-evicted"))
        counted = manager.context.registry.get_sample_value(
            "pod_gc_collector_force_delete_pods_total",
            {"namespace": "default", "reason": "terminated"},
        )
    assert counted == 2
    for kept in ("b-failed", "c-succeeded", "e-running"):
        assert not await deleted(api, kept)


async def test_pods_of_a_deleted_node_go_after_the_quarantine_and_unscheduled_ones_at_once(
    api: ApiClient,
) -> None:
    clock = FakeClock(0.0)
    for node in ("present", "gone"):
        await api.create(NODES, {"metadata": {"name": node}})
    await create_pod(api, "on-present", node="present", phase="Running")
    await create_pod(api, "orphan", node="gone", phase="Running")
    await api.delete(NODES, "gone")
    await terminating_unscheduled(api, "pass-1")
    async with running_controllers(api, "podgc", clock=clock):
        # a pass fails the unscheduled terminating pods after it looked at orphans
        await eventually(lambda: failed(api, "pass-1"))
        assert not await deleted(api, "orphan")  # first seen missing at 0 s: quarantined

        async def tick() -> bool:
            clock.advance(1)
            return await deleted(api, "orphan")

        await eventually(tick)
        assert clock.now >= 40
    orphan = await api.get(PODS, "orphan", namespace="default")
    assert orphan["status"]["phase"] == "Failed"
    (disruption,) = [c for c in orphan["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (disruption["status"], disruption["reason"]) == ("True", "DeletionByPodGC")
    assert disruption["message"] == "PodGC: node no longer exists"
    assert orphan["metadata"]["deletionGracePeriodSeconds"] == 0
    assert await phase(api, "on-present") == "Running"
    assert not await deleted(api, "on-present")


async def test_terminating_pods_on_an_out_of_service_node_are_deleted_at_once(
    api: ApiClient,
) -> None:
    taint = {"key": "node.kubernetes.io/out-of-service", "value": "shutdown", "effect": "NoExecute"}
    await api.create(NODES, {"metadata": {"name": "down"}, "spec": {"taints": [taint]}})
    await create_pod(api, "stuck", node="down", phase="Running")
    await create_pod(api, "running", node="down", phase="Running")
    graceful = await api.delete(PODS, "stuck", namespace="default")
    assert graceful["metadata"]["deletionGracePeriodSeconds"] == 30
    async with running_controllers(api, "podgc"):
        await eventually(lambda: failed(api, "stuck"))
    stuck = await api.get(PODS, "stuck", namespace="default")
    assert stuck["metadata"]["deletionGracePeriodSeconds"] == 0
    assert await phase(api, "running") == "Running"  # not terminating: left to its node
