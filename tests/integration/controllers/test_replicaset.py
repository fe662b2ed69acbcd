"""The replicaset controller against the real API server (with hollow nodes and the
real scheduler where pods must run)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pynetes.api.meta import controller_of
from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.client.watch import watch
from pynetes.hollow import generate_node_specs
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import GUARD, eventually, running_controllers
from tests.integration.controllers.nodes import running_nodes

Object = dict[str, Any]
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
NAMESPACES = built_in("", "v1", "namespaces")
QUOTAS = built_in("", "v1", "resourcequotas")
PRIORITY_CLASSES = built_in("scheduling.k8s.io", "v1", "priorityclasses")
NAMESPACE = "default"


def replica_set(name: str, replicas: int, **spec: Any) -> Object:
    labels = {"app": name}
    pod_spec = {"containers": [{"name": "c", "image": "nginx:1"}], **spec.pop("pod", {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            **spec,
        },
    }


async def owned_pods(api: ApiClient, owner: Object) -> list[Object]:
    """The live (not deleting) pods ``owner`` controls, by name."""
    pods = (await api.list(PODS, namespace=NAMESPACE))["items"]
    return sorted(
        (
            pod
            for pod in pods
            if (controller_of(pod) or {}).get("uid") == owner["metadata"]["uid"]
            and not pod["metadata"].get("deletionTimestamp")
        ),
        key=lambda pod: pod["metadata"]["name"],
    )


async def settled(
    api: ApiClient, owner: Object, replicas: int, resource: Resource = REPLICA_SETS
) -> list[Object]:
    """Wait until ``owner`` (of ``resource``) has ``replicas`` pods and says so in its status."""

    async def check() -> tuple[list[Object]] | None:
        pods = await owned_pods(api, owner)
        fresh = await api.get(resource, owner["metadata"]["name"], namespace=NAMESPACE)
        counted = (fresh.get("status") or {}).get("replicas")
        return (pods,) if len(pods) == replicas and counted == replicas else None

    (pods,) = await eventually(check)
    return pods


async def events_of(api: ApiClient, name: str, reason: str) -> list[Object]:
    events = (await api.list(EVENTS, namespace=NAMESPACE))["items"]
    return [
        event
        for event in events
        if event["involvedObject"]["name"] == name and event["reason"] == reason
    ]


async def scale(api: ApiClient, name: str, replicas: int) -> None:
    await api.patch(REPLICA_SETS, name, {"spec": {"replicas": replicas}}, namespace=NAMESPACE)


async def test_creates_its_replicas_and_reports_them(api: ApiClient) -> None:
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 3), namespace=NAMESPACE)
        pods = await settled(api, owner, 3)

        assert all(pod["metadata"]["labels"] == {"app": "web"} for pod in pods)
        assert all(pod["metadata"]["name"].startswith("web-") for pod in pods)
        reference = controller_of(pods[0])
        assert reference is not None
        assert (reference["kind"], reference["apiVersion"]) == ("ReplicaSet", "apps/v1")
        assert reference["blockOwnerDeletion"] is True
        fresh = await api.get(REPLICA_SETS, "web", namespace=NAMESPACE)
        assert fresh["status"]["fullyLabeledReplicas"] == 3
        assert fresh["status"]["observedGeneration"] == fresh["metadata"]["generation"]
        created = await eventually(lambda: events_of(api, "web", "SuccessfulCreate"))
        assert created[0]["message"].startswith("Created pod: web-")


async def test_creates_exactly_the_pods_it_wants_across_slow_start_batches(
    api: ApiClient,
) -> None:
    """Every pod ever created is counted, deleted ones too: no sync overshoots (a sync
    woken by the first pods of a batch waits for the rest, through expectations)."""
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 300), namespace=NAMESPACE)
        await settled(api, owner, 300)
    since = owner["metadata"]["resourceVersion"]  # every pod of it comes later
    sentinel = {
        "metadata": {"name": "sentinel", "labels": {"app": "other"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
    }
    await api.create(PODS, sentinel, namespace=NAMESPACE)

    created: set[str] = set()
    async with asyncio.timeout(GUARD):
        async for event in watch(api, PODS, namespace=NAMESPACE, resource_version=since):
            name = event.object.get("metadata", {}).get("name")
            if event.type == "ADDED" and name == "sentinel":
                break  # every pod made before it was seen
            if event.type == "ADDED" and controller_of(event.object):
                created.add(name)
    assert len(created) == 300


async def test_scales_down_deleting_the_least_settled_pods_first(api: ApiClient) -> None:
    async with running_nodes(api, generate_node_specs(2)), running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 3), namespace=NAMESPACE)
        await settled(api, owner, 3)
        await eventually(lambda: ready_replicas(api, "web", 3))
        running = await owned_pods(api, owner)
        cheap = running[1]["metadata"]["name"]
        cost = {"controller.kubernetes.io/pod-deletion-cost": "-10"}
        await api.patch(PODS, cheap, {"metadata": {"annotations": cost}}, namespace=NAMESPACE)
        # a fourth pod, which cannot be scheduled: adopted, it is the surplus to delete
        pending = await api.create(
            PODS,
            {
                "metadata": {"name": "web-pending", "labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx:1"}],
                    "nodeSelector": {"nowhere": "true"},
                },
            },
            namespace=NAMESPACE,
        )
        # once the controller saw it, it also saw the annotation made before it
        await eventually(lambda: deleted_or_deleting(api, "web-pending"))

        await scale(api, "web", 2)
        kept = {pod["metadata"]["name"] for pod in await settled(api, owner, 2)}

        assert pending["metadata"]["name"] not in kept
        assert cheap not in kept, "the lower deletion cost goes first among running pods"
        deleted = await eventually(lambda: events_of(api, "web", "SuccessfulDelete"))
        assert {e["message"] for e in deleted} >= {"Deleted pod: web-pending"}

        await scale(api, "web", 4)
        assert len(await settled(api, owner, 4)) == 4


async def deleted_or_deleting(api: ApiClient, name: str) -> bool:
    try:
        pod = await api.get(PODS, name, namespace=NAMESPACE)
    except errors.NotFound:
        return True
    return bool(pod["metadata"].get("deletionTimestamp"))


async def ready_replicas(api: ApiClient, name: str, count: int) -> bool:
    fresh = await api.get(REPLICA_SETS, name, namespace=NAMESPACE)
    return (fresh.get("status") or {}).get("readyReplicas") == count


async def test_adopts_orphans_releases_strays_and_replaces_deleted_pods(api: ApiClient) -> None:
    orphan = await api.create(
        PODS,
        {
            "metadata": {"name": "orphan", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
        },
        namespace=NAMESPACE,
    )
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 2), namespace=NAMESPACE)
        pods = await settled(api, owner, 2)
        assert "orphan" in {pod["metadata"]["name"] for pod in pods}
        assert len(await events_of(api, "web", "SuccessfulCreate")) <= 1

        stray = next(p for p in pods if p["metadata"]["name"] != "orphan")["metadata"]["name"]
        relabel = {"metadata": {"labels": {"app": "elsewhere"}}}
        await api.patch(PODS, stray, relabel, namespace=NAMESPACE)

        async def released() -> bool:
            return controller_of(await api.get(PODS, stray, namespace=NAMESPACE)) is None

        await eventually(released)
        pods = await settled(api, owner, 2)
        assert stray not in {pod["metadata"]["name"] for pod in pods}

        await api.delete(PODS, "orphan", namespace=NAMESPACE, grace_period_seconds=0)

        async def replaced() -> bool:
            pods = await owned_pods(api, owner)
            return len(pods) == 2 and orphan["metadata"]["uid"] not in {
                pod["metadata"]["uid"] for pod in pods
            }

        await eventually(replaced)


async def test_terminal_pods_do_not_count_and_are_replaced(api: ApiClient) -> None:
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 1), namespace=NAMESPACE)
        [first] = await settled(api, owner, 1)
        failed = {"status": {"phase": "Failed"}}
        name = first["metadata"]["name"]
        await api.patch(PODS, name, failed, namespace=NAMESPACE, subresource="status")

        async def replaced() -> bool:
            live = [p for p in await owned_pods(api, owner) if p["metadata"]["name"] != name]
            return len(live) == 1

        await eventually(replaced)
        kept = await api.get(PODS, name, namespace=NAMESPACE)
        assert kept["status"]["phase"] == "Failed", "a terminal pod is left for its collector"


async def test_failed_creates_are_reported_and_retried(api: ApiClient) -> None:
    """A pod the API refuses (its PriorityClass does not exist yet) is reported, then made."""
    async with running_controllers(api, "replicaset"):
        wanted = replica_set("web", 2, pod={"priorityClassName": "later"})
        owner = await api.create(REPLICA_SETS, wanted, namespace=NAMESPACE)

        condition = await eventually(lambda: replica_failure(api, "web"))
        assert condition["reason"] == "FailedCreate"
        assert "no PriorityClass with name later was found" in condition["message"]
        warnings = await eventually(lambda: events_of(api, "web", "FailedCreate"))
        assert warnings[0]["type"] == "Warning"
        assert warnings[0]["message"].startswith("Error creating: ")
        assert await owned_pods(api, owner) == []

        await api.create(PRIORITY_CLASSES, {"metadata": {"name": "later"}, "value": 10})
        await settled(api, owner, 2)
        await eventually(lambda: no_replica_failure(api, "web"))


async def test_a_quota_caps_the_pods_until_it_is_raised(api: ApiClient) -> None:
    quota = {"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "2"}}}
    await api.create(QUOTAS, quota, namespace=NAMESPACE)
    async with running_controllers(api, "replicaset", "resourcequota"):

        async def counted() -> bool:
            fresh = await api.get(QUOTAS, "pods", namespace=NAMESPACE)
            return (fresh.get("status") or {}).get("used") == {"pods": "0"}

        await eventually(counted)
        owner = await api.create(REPLICA_SETS, replica_set("web", 3), namespace=NAMESPACE)

        condition = await eventually(lambda: replica_failure(api, "web"))
        assert condition["reason"] == "FailedCreate"
        assert "exceeded quota: pods" in condition["message"]
        assert len(await owned_pods(api, owner)) == 2
        warning = (await eventually(lambda: events_of(api, "web", "FailedCreate")))[0]
        assert "exceeded quota: pods" in warning["message"]

        raised = {"spec": {"hard": {"pods": "3"}}}
        await api.patch(QUOTAS, "pods", raised, namespace=NAMESPACE)
        await settled(api, owner, 3)
        await eventually(lambda: no_replica_failure(api, "web"))


async def test_creates_refused_by_a_terminating_namespace_are_no_failure(api: ApiClient) -> None:
    """The namespace is going away with everything in it: nothing to report."""
    await api.create(NAMESPACES, {"metadata": {"name": "doomed"}})
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 1), namespace="doomed")
        await eventually(lambda: replicas_counted(api, "doomed", 1))
        # no namespace controller runs: the namespace stays Terminating
        await api.delete(NAMESPACES, "doomed")
        patch = {"spec": {"replicas": 3}}
        await api.patch(REPLICA_SETS, "web", patch, namespace="doomed")

        async def generation_observed() -> Object | None:
            fresh = await api.get(REPLICA_SETS, "web", namespace="doomed")
            observed = fresh["status"].get("observedGeneration")
            return fresh if observed == fresh["metadata"]["generation"] else None

        fresh = await eventually(generation_observed)
        assert fresh["status"]["replicas"] == 1
        assert not fresh["status"].get("conditions")
        assert owner["metadata"]["uid"] == fresh["metadata"]["uid"]


async def replicas_counted(api: ApiClient, namespace: str, count: int) -> bool:
    fresh = await api.get(REPLICA_SETS, "web", namespace=namespace)
    return (fresh.get("status") or {}).get("replicas") == count


async def replica_failure(api: ApiClient, name: str) -> Object | None:
    fresh = await api.get(REPLICA_SETS, name, namespace=NAMESPACE)
    conditions = (fresh.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)


async def no_replica_failure(api: ApiClient, name: str) -> bool:
    return await replica_failure(api, name) is None


async def test_available_replicas_count_pods_ready_for_min_ready_seconds(api: ApiClient) -> None:
    offset = 0.0

    def wall_clock() -> float:
        return time.time() + offset

    async with (
        running_nodes(api, generate_node_specs(2)),
        running_controllers(api, "replicaset", wall_clock=wall_clock),
    ):
        wanted = replica_set("web", 2, minReadySeconds=600)
        await api.create(REPLICA_SETS, wanted, namespace=NAMESPACE)
        await eventually(lambda: ready_replicas(api, "web", 2))
        fresh = await api.get(REPLICA_SETS, "web", namespace=NAMESPACE)
        assert fresh["status"].get("availableReplicas", 0) == 0

        offset = 600.0
        touch = {"metadata": {"annotations": {"touched": "yes"}}}
        await api.patch(REPLICA_SETS, "web", touch, namespace=NAMESPACE)
        await eventually(lambda: available_replicas(api, "web", 2))


async def test_ready_pods_are_rechecked_once_min_ready_seconds_pass(api: ApiClient) -> None:
    """No event tells the controller a pod became available: it comes back by itself."""

    def wall_clock() -> float:
        return time.time() + 598.0  # pods will have been ready for 598 of the 600 s

    async with (
        running_nodes(api, generate_node_specs(2)),
        running_controllers(api, "replicaset", wall_clock=wall_clock),
    ):
        wanted = replica_set("web", 2, minReadySeconds=600)
        await api.create(REPLICA_SETS, wanted, namespace=NAMESPACE)
        await eventually(lambda: available_replicas(api, "web", 2))


async def available_replicas(api: ApiClient, name: str, count: int) -> bool:
    fresh = await api.get(REPLICA_SETS, name, namespace=NAMESPACE)
    return (fresh.get("status") or {}).get("availableReplicas") == count


async def test_a_replica_set_being_deleted_makes_no_pods(api: ApiClient) -> None:
    async with running_controllers(api, "replicaset"):
        wanted = replica_set("web", 1)
        wanted["metadata"]["finalizers"] = ["example.com/hold"]
        owner = await api.create(REPLICA_SETS, wanted, namespace=NAMESPACE)
        pods = await settled(api, owner, 1)
        await api.delete(REPLICA_SETS, "web", namespace=NAMESPACE, propagation_policy="Orphan")
        await api.delete(PODS, pods[0]["metadata"]["name"], namespace=NAMESPACE)

        async def gone_and_not_replaced() -> bool:
            fresh = await api.get(REPLICA_SETS, "web", namespace=NAMESPACE)
            return (fresh.get("status") or {}).get("replicas") == 0

        await eventually(gone_and_not_replaced)
        assert await owned_pods(api, owner) == []
        unhold = {"metadata": {"finalizers": None}}
        await api.patch(REPLICA_SETS, "web", unhold, namespace=NAMESPACE)


async def test_kubectl_scales_and_lists_replica_sets(api: ApiClient, cluster: Cluster) -> None:
    kubectl = cluster.kubectl()
    async with running_controllers(api, "replicaset"):
        owner = await api.create(REPLICA_SETS, replica_set("web", 1), namespace=NAMESPACE)
        await settled(api, owner, 1)

        await kubectl("scale", "rs/web", "--replicas=3")
        await settled(api, owner, 3)

        async def generation_observed() -> bool:
            fresh = await api.get(REPLICA_SETS, "web", namespace=NAMESPACE)
            return fresh["status"].get("observedGeneration") == fresh["metadata"]["generation"]

        await eventually(generation_observed)
        _, out, _ = await kubectl("get", "rs", "web")
        assert out.split("\n")[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
        assert out.split("\n")[1].split()[:4] == ["web", "3", "3", "0"]

        await eventually(lambda: events_of(api, "web", "SuccessfulCreate"))
        _, out, _ = await kubectl("describe", "rs", "web")
        assert "Replicas:     3 current / 3 desired" in out
        assert "SuccessfulCreate  " in out and "replicaset-controller  Created pod: web-" in out

        _, out, _ = await kubectl("get", "rs/web", "--subresource=scale", "-o", "json")
        assert json.loads(out)["status"] == {"replicas": 3, "selector": "app=web"}

        await kubectl("scale", "rs/web", "--replicas=0")
        await settled(api, owner, 0)
