"""The scheduler against the real API server: bindings, events, conditions."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.scheduler.config import SchedulerConfiguration, default_profile
from pynetes.scheduler.scheduler import Scheduler
from tests.unit.scheduler.builders import expression, node, pod

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
EVENTS = built_in("", "v1", "events")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
ZONE = "topology.kubernetes.io/zone"


@pytest.fixture
async def api(cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


@contextlib.asynccontextmanager
async def running(api: ApiClient, *names: str) -> AsyncIterator[Scheduler]:
    config = SchedulerConfiguration(
        profiles=[default_profile(n) for n in names or ["default-scheduler"]]
    )
    scheduler = Scheduler(api, config, rng=random.Random(1))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll the API until ``check`` returns something truthy (the server is real)."""
    async with asyncio.timeout(30):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


async def create_nodes(api: ApiClient, *builders) -> None:
    """Create each Node, then set its status (a create drops it, as upstream's)."""
    for builder in builders:
        built = builder.build()
        created = await api.create(NODES, built)
        await api.replace(NODES, {**created, "status": built["status"]}, subresource="status")


async def create_pod(api: ApiClient, builder) -> None:
    built = builder.build()
    del built["metadata"]["uid"]
    await api.create(PODS, built, namespace="default")


async def node_of(api: ApiClient, name: str) -> str:
    async def bound():
        return (await api.get(PODS, name, namespace="default"))["spec"].get("nodeName")

    return await eventually(bound, f"{name} bound")


async def events_for(api: ApiClient, name: str, reason: str) -> list[dict[str, Any]]:
    listed = await api.list(
        EVENTS, namespace="default", field_selector=f"involvedObject.name={name},reason={reason}"
    )
    return listed["items"]


async def test_resource_fit_spreads_and_respects_capacity(api):
    await create_nodes(
        api,
        node("small").capacity(cpu="1", memory="1Gi"),
        node("big").capacity(cpu="4", memory="8Gi"),
    )
    async with running(api):
        await create_pod(api, pod("large").container(cpu="2", memory="1Gi"))
        assert await node_of(api, "large") == "big"
        event = await eventually(lambda: events_for(api, "large", "Scheduled"), "event")
        assert event[0]["message"] == "Successfully assigned default/large to big"
        assert event[0]["source"]["component"] == "default-scheduler"


async def test_taints_and_affinity(api):
    await create_nodes(
        api,
        node("tainted").capacity(cpu="4").taint("dedicated", "gpu").label("zone", "a"),
        node("plain-a").capacity(cpu="4").label("zone", "a"),
        node("plain-b").capacity(cpu="4").label("zone", "b"),
    )
    async with running(api):
        await create_pod(
            api,
            pod("tolerant")
            .toleration("dedicated", "gpu", "NoSchedule")
            .node_selector(zone="a")
            .required_affinity(expression("kubernetes.io/hostname", "In", "tainted")),
        )
        await create_pod(api, pod("zone-b").required_affinity(expression("zone", "In", "b")))
        await create_pod(api, pod("zone-a").node_selector(zone="a"))
        assert await node_of(api, "tolerant") == "tainted"
        assert await node_of(api, "zone-b") == "plain-b"
        assert await node_of(api, "zone-a") == "plain-a"


async def test_unschedulable_pod_reports_then_fits_a_new_node(api):
    await create_nodes(
        api,
        node("node-1").capacity(cpu="1").taint("dedicated", "gpu"),
        node("node-2").capacity(cpu="1"),
        node("node-3").capacity(cpu="1"),
    )
    async with running(api):
        await create_pod(api, pod("web-0").container(cpu="2"))
        expected = (
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: "
            "1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod.."
        )

        async def condition():
            got = await api.get(PODS, "web-0", namespace="default")
            for item in (got.get("status") or {}).get("conditions") or []:
                if item["type"] == "PodScheduled":
                    return item
            return None

        scheduled = await eventually(condition, "condition")
        assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
        assert scheduled["message"] == expected
        failed = await eventually(lambda: events_for(api, "web-0", "FailedScheduling"), "event")
        assert failed[0]["message"] == expected
        assert failed[0]["type"] == "Warning"

        await create_nodes(api, node("node-4").capacity(cpu="4"))
        assert await node_of(api, "web-0") == "node-4"


async def test_two_schedulers_by_name(api):
    await create_nodes(api, node("n").capacity(cpu="4"))
    async with running(api, "default-scheduler"), running(api, "second"):
        await create_pod(api, pod("first-pod"))
        await create_pod(api, pod("second-pod").scheduler_name("second"))
        await create_pod(api, pod("orphan").scheduler_name("nobody"))
        assert await node_of(api, "first-pod") == "n"
        assert await node_of(api, "second-pod") == "n"
        events = await eventually(lambda: events_for(api, "second-pod", "Scheduled"), "event")
        assert events[0]["source"]["component"] == "second"
        orphan = await api.get(PODS, "orphan", namespace="default")
        assert not orphan["spec"].get("nodeName")
        assert await events_for(api, "orphan", "FailedScheduling") == []


async def test_topology_spread_across_zones(api):
    zones = {"a": ("a-1", "a-2"), "b": ("b-1", "b-2"), "c": ("c-1", "c-2")}
    await create_nodes(
        api,
        *(
            node(name).capacity(cpu="8").label("topology.kubernetes.io/zone", zone)
            for zone, names in zones.items()
            for name in names
        ),
    )
    async with running(api):
        for i in range(6):
            await create_pod(
                api,
                pod(f"web-{i}")
                .label("app", "web")
                .spread(1, "topology.kubernetes.io/zone", selector={"matchLabels": {"app": "web"}}),
            )
        placed = [await node_of(api, f"web-{i}") for i in range(6)]
    per_zone = {zone: sum(name in names for name in placed) for zone, names in zones.items()}
    assert per_zone == {"a": 2, "b": 2, "c": 2}


async def test_required_anti_affinity_avoids_the_other_pods_node(api):
    await create_nodes(api, node("first").capacity(cpu="8"), node("second").capacity(cpu="1"))
    async with running(api):
        await create_pod(api, pod("db").label("app", "db"))
        assert await node_of(api, "db") == "first"
        await create_pod(
            api,
            pod("web").pod_affinity(
                "kubernetes.io/hostname", {"matchLabels": {"app": "db"}}, anti=True
            ),
        )
        assert await node_of(api, "web") == "second"


async def test_replica_set_pods_spread_by_default(api):
    """Without constraints of their own, a ReplicaSet's pods get the system default
    spreading: resource scoring alone would stack all of them on the big node."""
    await create_nodes(
        api,
        node("big").capacity(cpu="64", memory="256Gi").label(ZONE, "a"),
        node("small-1").capacity(cpu="2", memory="4Gi").label(ZONE, "b"),
        node("small-2").capacity(cpu="2", memory="4Gi").label(ZONE, "c"),
    )
    template = {"metadata": {"labels": {"app": "web"}}, "spec": pod().build()["spec"]}
    replica_set = await api.create(
        REPLICA_SETS,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 6,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template,
            },
        },
        namespace="default",
    )
    owner = {"uid": replica_set["metadata"]["uid"], "name": "web"}
    async with running(api):
        for i in range(6):
            await create_pod(api, pod(f"web-{i}").label("app", "web").owner("ReplicaSet", **owner))
        placed = [await node_of(api, f"web-{i}") for i in range(6)]
    assert {name: placed.count(name) for name in placed} == {"big": 2, "small-1": 2, "small-2": 2}


async def test_a_binding_lost_in_transit_sends_the_pod_back_to_be_scheduled_again(api, monkeypatch):
    """A Binding that fails with no answer (a timeout, a dropped connection) is not
    an API error: the pod must still be forgotten, requeued and bound later."""
    from pynetes.scheduler.plugins.default_binder import DefaultBinder

    real_bind = DefaultBinder.bind
    failures = []

    async def flaky_bind(self, state, pod, node_name):
        if not failures:
            failures.append(pod["metadata"]["name"])
            raise TimeoutError("the Binding got no answer")
        return await real_bind(self, state, pod, node_name)

    monkeypatch.setattr(DefaultBinder, "bind", flaky_bind)
    await create_nodes(api, node("n").capacity(cpu="2"))
    async with running(api):
        await create_pod(api, pod("web").container(cpu="1"))
        assert await node_of(api, "web") == "n"
    assert failures == ["web"]
