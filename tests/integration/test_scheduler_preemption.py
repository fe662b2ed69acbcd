"""Preemption through the real API server: a hollow node full of low-priority
pods, a high-priority pod arrives, the scheduler evicts what it must, nominates
the pod, and binds it once the hollow kubelet has finished the victims."""

from __future__ import annotations

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, NodeSpec
from tests.integration import test_scheduler
from tests.integration.test_scheduler import (
    PODS,
    create_pod,
    events_for,
    eventually,
    node_of,
    running,
)
from tests.unit.scheduler.builders import pod

#: The scheduler tests' client fixture, shared rather than copied.
api = test_scheduler.api

PRIORITY_CLASSES = built_in("scheduling.k8s.io", "v1", "priorityclasses")


async def priority_class(
    api: ApiClient, name: str, value: int, policy: str = "PreemptLowerPriority"
) -> None:
    await api.create(
        PRIORITY_CLASSES,
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "preemptionPolicy": policy,
        },
    )


def classed(name: str, priority_class_name: str, cpu: str):
    built = pod(name).container(cpu=cpu)
    built.spec["priorityClassName"] = priority_class_name
    return built


async def pod_names(api: ApiClient) -> set[str]:
    listed = await api.list(PODS, namespace="default")
    return {item["metadata"]["name"] for item in listed["items"]}


async def test_high_priority_pod_preempts_and_binds_to_its_nominated_node(api):
    await priority_class(api, "low", 10)
    await priority_class(api, "high", 1000)
    async with HollowNodes(api, [NodeSpec("n1", cpu="2")]) as nodes, running(api):
        await nodes.ready()
        await create_pod(api, classed("old", "low", "1").started("2025-01-01T00:00:00Z"))
        assert await node_of(api, "old") == "n1"
        await create_pod(api, classed("young", "low", "1"))
        assert await node_of(api, "young") == "n1"

        await create_pod(api, classed("urgent", "high", "1"))
        assert await node_of(api, "urgent") == "n1"

        urgent = await api.get(PODS, "urgent", namespace="default")
        assert urgent["spec"]["priority"] == 1000
        assert urgent["status"]["nominatedNodeName"] == "n1"
        assert await pod_names(api) == {"old", "urgent"}
        uid = urgent["metadata"]["uid"]
        preempted = await eventually(lambda: events_for(api, "young", "Preempted"), "event")
        assert preempted[0]["message"] == f"Preempted by pod {uid} on node n1"
        failed = await events_for(api, "urgent", "FailedScheduling")
        assert failed[0]["message"] == "0/1 nodes are available: 1 Insufficient cpu."


async def test_preemption_policy_never_waits_and_says_so(api):
    await priority_class(api, "low", 10)
    await priority_class(api, "high-polite", 1000, "Never")
    async with HollowNodes(api, [NodeSpec("n1", cpu="1")]) as nodes, running(api):
        await nodes.ready()
        await create_pod(api, classed("resident", "low", "1"))
        assert await node_of(api, "resident") == "n1"
        await create_pod(api, classed("polite", "high-polite", "1"))
        failed = await eventually(lambda: events_for(api, "polite", "FailedScheduling"), "event")
        assert failed[0]["message"] == (
            "0/1 nodes are available: 1 Insufficient cpu. "
            "preemption: not eligible due to preemptionPolicy=Never.."
        )
        assert await pod_names(api) == {"resident", "polite"}


async def test_a_pod_kept_off_by_anti_affinity_preempts_the_pod_it_refuses(api):
    """Room is not only CPU: the victim is the lower-priority pod whose labels the
    preemptor's required anti-affinity refuses on the only node."""
    await priority_class(api, "low", 10)
    await priority_class(api, "high", 1000)
    refuses_db = {"matchLabels": {"app": "db"}}
    async with HollowNodes(api, [NodeSpec("n1", cpu="8")]) as nodes, running(api):
        await nodes.ready()
        await create_pod(api, classed("db", "low", "1").label("app", "db"))
        await create_pod(api, classed("web", "low", "1").label("app", "web"))
        assert await node_of(api, "db") == "n1"
        assert await node_of(api, "web") == "n1"

        loner = classed("loner", "high", "1").pod_affinity(
            "kubernetes.io/hostname", refuses_db, anti=True
        )
        await create_pod(api, loner)
        assert await node_of(api, "loner") == "n1"
        assert await pod_names(api) == {"web", "loner"}
        await eventually(lambda: events_for(api, "db", "Preempted"), "event")
