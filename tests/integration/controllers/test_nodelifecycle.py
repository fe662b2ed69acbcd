"""The node lifecycle and taint eviction controllers against the real API server.

Hollow nodes play the kubelets: stopping them stops their Leases, and the
controllers' wall clock, a fake one, is moved past the grace period by
hand. Pods are bound to the nodes directly (``spec.nodeName``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, NodeSpec, generate_node_specs
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import WallClock, eventually, running_controllers

Object = dict[str, Any]

NODES = built_in("", "v1", "nodes")
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
#: Fast passes: the grace periods are measured on the fake wall clock, not in real time.
FAST = {"node_monitor_period": 0.05}
CONTROLLERS = ("nodelifecycle", "taint-eviction-controller")


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
async def nodes(api: ApiClient) -> AsyncIterator[HollowNodes]:
    """The node "hollow-0" the tests stop, and a healthy neighbour.

    With no ready node left the controller would take the control plane
    for cut off and taint nothing (as upstream); the neighbour renews its
    Lease often enough to stay healthy however fast the tests move the
    wall clock on.
    """
    hollow = HollowNodes(api, generate_node_specs(1))
    async with HollowNodes(api, [NodeSpec("neighbour")], lease_period=0.05) as neighbour:
        await hollow.start()
        await asyncio.gather(hollow.ready(), neighbour.ready())
        yield hollow
        await hollow.stop()


def pod(name: str, *tolerations: Object, node: str = "hollow-0") -> Object:
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1"}]}
    return {"metadata": {"name": name}, "spec": {**spec, "tolerations": list(tolerations)}}


def unreachable_toleration(**extra: Any) -> Object:
    return {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", **extra}


def taints(node: Object) -> dict[tuple[str, str], Object]:
    return {(t["key"], t["effect"]): t for t in (node.get("spec") or {}).get("taints") or []}


def conditions(obj: Object) -> dict[str, Object]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


async def get_pod(api: ApiClient, name: str) -> Object | None:
    try:
        return await api.get(PODS, name, namespace="default")
    except errors.NotFound:
        return None


async def ready(api: ApiClient, name: str, status: str) -> bool:
    found = await get_pod(api, name)
    return found is not None and conditions(found).get("Ready", {}).get("status") == status


async def being_deleted(api: ApiClient, name: str) -> bool:
    found = await get_pod(api, name)
    return found is None or bool(found["metadata"].get("deletionTimestamp"))


async def events_about(api: ApiClient, name: str, reason: str) -> list[Object]:
    listed = await api.list(EVENTS, field_selector=f"involvedObject.name={name},reason={reason}")
    return listed["items"]


async def silenced(api: ApiClient, clock: WallClock) -> Object | None:
    """Move the wall clock on until the controller finds the stopped node silent.

    In steps short enough for the neighbour's Lease renewals to keep it healthy.
    """
    clock.advance(2)
    node = await api.get(NODES, "hollow-0")
    return node if (UNREACHABLE, "NoExecute") in taints(node) else None


async def test_a_silent_node_goes_unknown_and_tainted_until_it_is_heard_again(
    cluster: Cluster, api: ApiClient, nodes: HollowNodes, clock: WallClock
) -> None:
    async with running_controllers(api, *CONTROLLERS, **FAST, wall_clock=clock):
        await eventually(lambda: events_about(api, "hollow-0", "RegisteredNode"))
        await nodes.stop()
        node = await eventually(lambda: silenced(api, clock))

        found = conditions(node)
        for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            assert found[kind]["status"] == "Unknown"
            assert found[kind]["reason"] == "NodeStatusUnknown"
            assert found[kind]["message"] == "Kubelet stopped posting node status."
        assert taints(node)[(UNREACHABLE, "NoExecute")]["timeAdded"]
        await eventually(
            lambda: node_has_taint(api, (UNREACHABLE, "NoSchedule"))
        )  # TaintNodesByCondition
        (event,) = await eventually(lambda: events_about(api, "hollow-0", "NodeNotReady"))
        assert event["message"] == "Node hollow-0 status is now: NodeNotReady"
        assert event["source"]["component"] == "node-controller"
        kubectl = cluster.kubectl("1.31")
        _, listed, _ = await kubectl("get", "node", "hollow-0", "--no-headers")
        assert listed.split()[1] == "NotReady"
        _, described, _ = await kubectl("describe", "node", "hollow-0")
        assert "node.kubernetes.io/unreachable:NoExecute" in described

        async with HollowNodes(api, generate_node_specs(1)) as again:
            await again.ready()
            healthy = await eventually(lambda: node_without_taints(api))
        assert conditions(healthy)["Ready"]["status"] == "True"


async def node_has_taint(api: ApiClient, key: tuple[str, str]) -> bool:
    return key in taints(await api.get(NODES, "hollow-0"))


async def node_without_taints(api: ApiClient) -> Object | None:
    node = await api.get(NODES, "hollow-0")
    return None if taints(node) else node


async def test_pods_leave_an_unreachable_node_as_their_tolerations_allow(
    api: ApiClient, nodes: HollowNodes, clock: WallClock
) -> None:
    await api.create(PODS, pod("defaults"), namespace="default")  # admission: 300 s
    await api.create(
        PODS, pod("at-once", unreachable_toleration(tolerationSeconds=0)), namespace="default"
    )
    await api.create(PODS, pod("forever", unreachable_toleration()), namespace="default")
    await eventually(lambda: ready(api, "forever", "True"))
    eviction = running_controllers(api, "taint-eviction-controller", wall_clock=clock)
    lifecycle = running_controllers(api, "nodelifecycle", **FAST, wall_clock=clock)
    async with eviction as evicting:
        async with lifecycle as monitoring:
            await eventually(lambda: events_about(api, "hollow-0", "RegisteredNode"))
            await nodes.stop()
            await eventually(lambda: silenced(api, clock))
            await eventually(lambda: ready(api, "forever", "False"))
            (warning,) = await eventually(lambda: events_about(api, "forever", "NodeNotReady"))
            assert (warning["type"], warning["message"]) == ("Warning", "Node is not ready")
            zone = {"zone": ""}  # the nodes have no zone labels
            metrics = monitoring.context.registry
            assert metrics.get_sample_value("node_collector_evictions_total", zone) == 1
            assert metrics.get_sample_value("node_collector_zone_size", zone) == 2
            assert metrics.get_sample_value("node_collector_unhealthy_nodes_in_zone", zone) == 1
        # The neighbour's Lease is renewed in real time: minutes on the fake clock
        # would make it look silent too. The taint stays; eviction goes on.
        await eventually(lambda: being_deleted(api, "at-once"))
        evicted = await api.get(PODS, "at-once", namespace="default")
        disruption = conditions(evicted)["DisruptionTarget"]
        assert (disruption["status"], disruption["reason"]) == ("True", "DeletionByTaintManager")
        (event,) = await eventually(lambda: events_about(api, "at-once", "TaintManagerEviction"))
        assert event["message"] == "Marking for deletion Pod default/at-once"

        clock.advance(290)
        await asyncio.sleep(0.5)  # a chance to (wrongly) evict early
        assert not await being_deleted(api, "defaults")
        clock.advance(15)
        await eventually(lambda: being_deleted(api, "defaults"))
        assert not await being_deleted(api, "forever")
        deletions = "taint_eviction_controller_pod_deletions_total"
        assert evicting.context.registry.get_sample_value(deletions) == 2


async def test_a_pod_on_a_node_tainted_no_execute_by_hand_goes_unless_it_tolerates(
    api: ApiClient, nodes: HollowNodes, clock: WallClock
) -> None:
    dedicated = {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}
    await api.create(PODS, pod("plain"), namespace="default")
    await api.create(PODS, pod("tolerant", dedicated), namespace="default")
    await api.create(
        PODS, pod("brief", {**dedicated, "tolerationSeconds": 60}), namespace="default"
    )
    async with running_controllers(api, "taint-eviction-controller", wall_clock=clock):
        taint = {"key": "dedicated", "value": "db", "effect": "NoExecute"}
        await api.patch(NODES, "hollow-0", {"spec": {"taints": [taint]}})
        await eventually(lambda: being_deleted(api, "plain"))

        await api.patch(NODES, "hollow-0", {"spec": {"taints": None}})
        (cancelled,) = await eventually(lambda: events_about(api, "brief", "TaintManagerEviction"))
        assert cancelled["message"] == "Cancelling deletion of Pod default/brief"
        clock.advance(120)
        await asyncio.sleep(0.5)  # a chance to (wrongly) evict a pod no longer doomed
        assert not await being_deleted(api, "brief")
        assert not await being_deleted(api, "tolerant")


async def test_a_cordoned_node_is_tainted_unschedulable_and_uncordoned_untainted(
    api: ApiClient, clock: WallClock
) -> None:
    async with HollowNodes(api, [NodeSpec("hollow-0", unschedulable=True)]) as nodes:
        await nodes.ready()
        async with running_controllers(api, "nodelifecycle", **FAST, wall_clock=clock):
            key = ("node.kubernetes.io/unschedulable", "NoSchedule")
            await eventually(lambda: node_has_taint(api, key))
            await api.patch(NODES, "hollow-0", {"spec": {"unschedulable": None}})
            await eventually(lambda: node_without_taints(api))


async def test_the_beta_os_and_arch_labels_follow_the_current_ones(api: ApiClient) -> None:
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}
    await api.create(NODES, {"metadata": {"name": "labelled", "labels": {
        **labels, "beta.kubernetes.io/arch": "amd64"
    }}})  # fmt: skip
    async with running_controllers(api, "nodelifecycle", **FAST):

        async def mirrored() -> bool:
            found = (await api.get(NODES, "labelled"))["metadata"]["labels"]
            beta = (found.get("beta.kubernetes.io/os"), found.get("beta.kubernetes.io/arch"))
            return beta == ("linux", "arm64")

        await eventually(mirrored)


async def test_with_every_node_silent_nothing_is_tainted_to_evict(
    api: ApiClient, clock: WallClock
) -> None:
    """The control plane is more likely cut off than every node down: upstream evicts nothing."""
    async with HollowNodes(api, generate_node_specs(1)) as nodes:
        await nodes.ready()
        await api.create(PODS, pod("stays"), namespace="default")
        async with running_controllers(api, *CONTROLLERS, **FAST, wall_clock=clock):
            await eventually(lambda: events_about(api, "hollow-0", "RegisteredNode"))
            await nodes.stop()

            async def unknown() -> bool:
                clock.advance(5)
                node = await api.get(NODES, "hollow-0")
                return conditions(node)["Ready"]["status"] == "Unknown"

            await eventually(unknown)
            await eventually(lambda: node_has_taint(api, (UNREACHABLE, "NoSchedule")))
            clock.advance(600)
            await asyncio.sleep(0.5)  # a chance to (wrongly) taint and evict
            assert not await node_has_taint(api, (UNREACHABLE, "NoExecute"))
            assert not await being_deleted(api, "stays")


async def test_a_node_reporting_not_ready_is_tainted_so_until_it_reports_ready(
    api: ApiClient, nodes: HollowNodes, clock: WallClock
) -> None:
    async with running_controllers(api, "nodelifecycle", **FAST, wall_clock=clock):
        await eventually(lambda: events_about(api, "hollow-0", "RegisteredNode"))
        nodes.set_ready("hollow-0", False)
        await eventually(lambda: node_has_taint(api, (NOT_READY, "NoExecute")))
        await eventually(lambda: node_has_taint(api, (NOT_READY, "NoSchedule")))
        nodes.set_ready("hollow-0", True)
        await eventually(lambda: node_without_taints(api))
