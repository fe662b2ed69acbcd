"""The disruption controller and the eviction subresource against the real API server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.conftest import FakeClock
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.widgets import widget, widget_crd

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
BUDGETS = built_in("policy", "v1", "poddisruptionbudgets")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
DEPLOYMENTS = built_in("apps", "v1", "deployments")
LABELS = {"app": "web"}
TEMPLATE = {
    "metadata": {"labels": LABELS},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


async def workload(api: ApiClient, resource: Any, name: str, replicas: int, owner: Object | None):
    body: Object = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": TEMPLATE},
    }
    if owner is not None:
        body["metadata"]["ownerReferences"] = [reference(owner)]
    return await api.create(resource, body)


def reference(owner: Object) -> Object:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }


async def running_pod(
    api: ApiClient,
    name: str,
    *,
    owner: Object | None = None,
    ready: bool = True,
    node: str | None = None,
) -> Object:
    """A pod as a kubelet would report it: Running, and Ready or not."""
    metadata: Object = {"name": name, "namespace": "default", "labels": LABELS}
    if owner is not None:
        metadata["ownerReferences"] = [reference(owner)]
    spec: Object = {"containers": [{"name": "c", "image": "nginx"}]}
    if node is not None:
        spec |= {"nodeName": node, "terminationGracePeriodSeconds": 0}
    await api.create(PODS, {"metadata": metadata, "spec": spec})
    status = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    return await api.patch(
        PODS, name, {"status": status}, namespace="default", subresource="status"
    )


async def budget(api: ApiClient, name: str = "web", **spec: Any) -> Object:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": LABELS}, **spec},
    }
    return await api.create(BUDGETS, body)


async def computed_status(api: ApiClient, name: str = "web", **expected: Any) -> Object:
    """The budget's status once the controller has computed it with these values."""

    async def check() -> Object | None:
        found = await api.get(BUDGETS, name, namespace="default")
        status = found.get("status") or {}
        if status.get("observedGeneration") != found["metadata"]["generation"]:
            return None
        if any(status.get(key) != value for key, value in expected.items()):
            return None
        return status

    return await eventually(check)


def condition(status: Object) -> tuple[str, str, str]:
    (found,) = [c for c in status["conditions"] if c["type"] == "DisruptionAllowed"]
    return found["status"], found["reason"], found["message"]


async def evict(api: ApiClient, name: str) -> Object:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    return await api.request("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", body=body)


async def test_integer_min_available_counts_the_pods_it_sees(api: ApiClient) -> None:
    for index in range(3):
        await running_pod(api, f"web-{index}")
    await running_pod(api, "web-unready", ready=False)
    await budget(api, minAvailable=2)
    async with running_controllers(api, "disruption"):
        status = await computed_status(api, currentHealthy=3)
        assert (status["desiredHealthy"], status["expectedPods"]) == (2, 4)
        assert status["disruptionsAllowed"] == 1
        assert condition(status) == ("True", "SufficientPods", "")

        await api.delete(PODS, "web-0", namespace="default")
        status = await computed_status(api, currentHealthy=2)
        assert status["disruptionsAllowed"] == 0
        assert condition(status) == ("False", "InsufficientPods", "")


async def test_percentages_and_max_unavailable_follow_the_owners_scale(api: ApiClient) -> None:
    deployment = await workload(api, DEPLOYMENTS, "web", 4, None)
    replica_set = await workload(api, REPLICA_SETS, "web-1234", 4, deployment)
    for index in range(3):
        await running_pod(api, f"web-{index}", owner=replica_set)
    await budget(api, "half", minAvailable="50%")
    await budget(api, "one-down", maxUnavailable=1)
    await budget(api, "third-down", maxUnavailable="30%")
    async with running_controllers(api, "disruption"):
        # the Deployment's 4 replicas are expected, though only 3 pods exist
        half = await computed_status(api, "half", expectedPods=4)
        assert (half["desiredHealthy"], half["currentHealthy"]) == (2, 3)
        assert half["disruptionsAllowed"] == 1
        one_down = await computed_status(api, "one-down", expectedPods=4)
        assert (one_down["desiredHealthy"], one_down["disruptionsAllowed"]) == (3, 0)
        # 30% of 4 rounds up to 2 unavailable
        third_down = await computed_status(api, "third-down", expectedPods=4)
        assert (third_down["desiredHealthy"], third_down["disruptionsAllowed"]) == (2, 1)


async def test_a_replica_set_without_deployment_gives_its_own_scale(api: ApiClient) -> None:
    replica_set = await workload(api, REPLICA_SETS, "web", 3, None)
    for index in range(3):
        await running_pod(api, f"web-{index}", owner=replica_set)
    await budget(api, maxUnavailable="34%")
    async with running_controllers(api, "disruption"):
        status = await computed_status(api, expectedPods=3)
        assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (1, 2)


async def test_a_missing_controller_fails_safe_with_a_readable_condition(api: ApiClient) -> None:
    ghost = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "gone", "uid": "0e8d1f5c-0000-4000-8000-000000000000"},
    }
    await running_pod(api, "web-0", owner=ghost)
    await budget(api, maxUnavailable=1)
    async with running_controllers(api, "disruption"):

        async def failed() -> Object | None:
            status = (await api.get(BUDGETS, "web", namespace="default")).get("status") or {}
            if not status.get("conditions"):
                return None
            return status

        status = await eventually(failed)
        assert status["disruptionsAllowed"] == 0
        assert condition(status) == ("False", "SyncFailed", 'found no controllers for pod "web-0"')


async def test_an_eviction_spends_the_budget_and_is_refused_when_none_is_left(
    api: ApiClient,
) -> None:
    for index in range(3):
        await running_pod(api, f"web-{index}")
    await budget(api, minAvailable=2)
    async with running_controllers(api, "disruption"):
        await computed_status(api, disruptionsAllowed=1)
        assert (await evict(api, "web-0"))["status"] == "Success"
        with pytest.raises(errors.NotFound):
            await api.get(PODS, "web-0", namespace="default")

        with pytest.raises(errors.TooManyRequests) as refused:
            await evict(api, "web-1")
        assert refused.value.status["message"] == (
            "Cannot evict pod as it would violate the pod's disruption budget."
        )
        (cause,) = refused.value.status["details"]["causes"]
        assert cause["reason"] == "DisruptionBudget"
        assert cause["message"].startswith("The disruption budget web needs 2 healthy pods")
        assert await api.get(PODS, "web-1", namespace="default")


async def computed_by_hand(api: ApiClient, name: str = "web", **status: Any) -> None:
    """Write a budget's status as the controller would have (no controller in the test)."""
    found = await api.get(BUDGETS, name, namespace="default")
    status = {"observedGeneration": found["metadata"]["generation"], **status}
    await api.patch(BUDGETS, name, {"status": status}, namespace="default", subresource="status")


async def test_an_eviction_records_the_pod_and_spends_the_last_disruption(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    await running_pod(api, "web-1")
    held = {"metadata": {"finalizers": ["example.com/hold"]}}
    await api.patch(PODS, "web-0", held, namespace="default")
    await budget(api, minAvailable=1)
    await computed_by_hand(
        api, disruptionsAllowed=1, currentHealthy=2, desiredHealthy=1, expectedPods=2
    )
    before = time.time()
    await evict(api, "web-0")

    status = (await api.get(BUDGETS, "web", namespace="default"))["status"]
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["web-0"]
    assert condition(status) == ("False", "InsufficientPods", "")
    evicted_at = datetime.fromisoformat(status["disruptedPods"]["web-0"]).timestamp()
    assert before - 1 <= evicted_at <= time.time()
    # the pod, held by its finalizer, shows why it is going
    pod = await api.get(PODS, "web-0", namespace="default")
    assert pod["metadata"]["deletionTimestamp"]
    (target,) = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )


async def test_a_budget_not_yet_computed_blocks_evictions(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    await budget(api, minAvailable=0)
    with pytest.raises(errors.TooManyRequests) as refused:
        await evict(api, "web-0")
    (cause,) = refused.value.status["details"]["causes"]
    assert cause == {
        "reason": "DisruptionBudget",
        "message": "The disruption budget web is still being processed by the server.",
    }


async def test_a_pod_under_two_budgets_cannot_be_evicted(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    await budget(api, "one", minAvailable=0)
    await budget(api, "two", maxUnavailable=1)
    with pytest.raises(errors.InternalError) as refused:
        await evict(api, "web-0")
    assert refused.value.status["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does"
        " not support."
    )


async def test_unready_pods_may_go_as_the_unhealthy_pod_policy_says(api: ApiClient) -> None:
    await running_pod(api, "web-0", ready=False)
    await running_pod(api, "web-1", ready=False)
    await budget(api, "strict", minAvailable=1, selector={"matchLabels": {"pod": "web-0"}})
    await api.patch(PODS, "web-0", {"metadata": {"labels": {"pod": "web-0"}}}, namespace="default")
    await budget(
        api,
        "lenient",
        minAvailable=1,
        unhealthyPodEvictionPolicy="AlwaysAllow",
        selector={"matchLabels": {"pod": "web-1"}},
    )
    await api.patch(PODS, "web-1", {"metadata": {"labels": {"pod": "web-1"}}}, namespace="default")
    for name in ("strict", "lenient"):
        await computed_by_hand(
            api, name, disruptionsAllowed=0, currentHealthy=0, desiredHealthy=1, expectedPods=1
        )

    # IfHealthyBudget (the default): the budget lacks healthy pods, so the unready pod stays
    with pytest.raises(errors.TooManyRequests):
        await evict(api, "web-0")
    await evict(api, "web-1")
    with pytest.raises(errors.NotFound):
        await api.get(PODS, "web-1", namespace="default")


async def test_an_evicted_pod_that_stays_counts_again_after_two_minutes(api: ApiClient) -> None:
    for index in range(3):
        await running_pod(api, f"web-{index}")
    await budget(api, minAvailable=1)
    wall = FakeClock(time.time())
    async with running_controllers(api, "disruption", wall_clock=wall):
        await computed_status(api, currentHealthy=3)
        evicted_at = datetime.fromtimestamp(wall(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # what the eviction writes, for a pod whose deletion then never happens
        await api.patch(
            BUDGETS,
            "web",
            {"status": {"disruptedPods": {"web-0": evicted_at}}},
            namespace="default",
            subresource="status",
        )
        status = await computed_status(api, currentHealthy=2)
        assert status["disruptedPods"] == {"web-0": evicted_at}

        wall.advance(121)
        await api.patch(
            PODS, "web-2", {"metadata": {"labels": {"touched": "1"}}}, namespace="default"
        )
        status = await computed_status(api, currentHealthy=3)
        assert "disruptedPods" not in status


async def test_kubectl_drain_respects_the_budget(api: ApiClient, cluster: Cluster) -> None:
    await api.create(NODES, {"metadata": {"name": "node-1"}})
    replica_set = await workload(api, REPLICA_SETS, "web", 3, None)
    for index in range(3):
        await running_pod(api, f"web-{index}", owner=replica_set, node="node-1")
    await budget(api, maxUnavailable=1)
    async with running_controllers(api, "disruption"):
        await computed_status(api, disruptionsAllowed=1)
        code, _out, err = await cluster.kubectl()("drain", "node-1", "--timeout=3s", check=False)

    assert code != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in err
    remaining = (await api.list(PODS, namespace="default"))["items"]
    assert len(remaining) == 2
    node = await api.get(NODES, "node-1")
    assert node["spec"]["unschedulable"] is True


async def test_a_disruption_target_not_followed_by_deletion_is_reset(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    wall = FakeClock(time.time())
    marked_at = datetime.fromtimestamp(wall(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": "default-scheduler: preempting to accommodate a higher priority pod",
        "lastTransitionTime": marked_at,
    }
    await api.patch(
        PODS,
        "web-0",
        {"status": {"conditions": [target]}},
        patch_type="strategic",
        namespace="default",
        subresource="status",
    )

    async def reset_target() -> Object | None:
        pod = await api.get(PODS, "web-0", namespace="default")
        (found,) = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        return found if found["status"] == "False" else None

    async with running_controllers(api, "disruption", wall_clock=wall):
        wall.advance(121)
        await api.patch(
            PODS, "web-0", {"metadata": {"labels": {"touched": "1"}}}, namespace="default"
        )
        reset = await eventually(reset_target)
    assert "reason" not in reset
    assert reset["lastTransitionTime"] != marked_at


async def test_pods_not_running_go_whatever_the_budget(api: ApiClient) -> None:
    await api.create(
        PODS,
        {
            "metadata": {"name": "pending", "namespace": "default", "labels": LABELS},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    )
    await running_pod(api, "finished")
    await api.patch(
        PODS,
        "finished",
        {"status": {"phase": "Succeeded"}},
        namespace="default",
        subresource="status",
    )
    await budget(api, minAvailable=5)  # never computed, never satisfiable
    for name in ("pending", "finished"):
        await evict(api, name)
        with pytest.raises(errors.NotFound):
            await api.get(PODS, name, namespace="default")


async def test_a_dry_run_eviction_spends_nothing(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    await budget(api, minAvailable=0)
    await computed_by_hand(
        api, disruptionsAllowed=1, currentHealthy=1, desiredHealthy=0, expectedPods=1
    )
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0"}}
    await api.request(
        "POST",
        "/api/v1/namespaces/default/pods/web-0/eviction",
        params={"dryRun": "All"},
        body=body,
    )
    pod = await api.get(PODS, "web-0", namespace="default")
    assert not pod["metadata"].get("deletionTimestamp")
    assert [c["type"] for c in pod["status"]["conditions"]] == ["Ready"]
    status = (await api.get(BUDGETS, "web", namespace="default"))["status"]
    assert (status["disruptionsAllowed"], status.get("disruptedPods")) == (1, None)


async def test_any_controller_with_a_scale_subresource_gives_the_expected_count(
    api: ApiClient,
) -> None:
    await widget_crd(api, scale=True)
    owner = await widget(api, "big", 5)
    await running_pod(api, "web-0", owner=owner)
    await running_pod(api, "web-1", owner=owner)
    await budget(api, maxUnavailable="40%")
    async with running_controllers(api, "disruption"):
        status = await computed_status(api, expectedPods=5)
        assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 0)


async def test_a_controller_without_scale_fails_the_budget_safe(api: ApiClient) -> None:
    await widget_crd(api, scale=False)
    owner = await widget(api, "plain", 2)
    await running_pod(api, "web-0", owner=owner)
    await budget(api, minAvailable="50%")
    async with running_controllers(api, "disruption"):

        async def failed() -> Object | None:
            status = (await api.get(BUDGETS, "web", namespace="default")).get("status") or {}
            return status if status.get("conditions") else None

        status = await eventually(failed)
    assert condition(status) == (
        "False",
        "SyncFailed",
        "widgets.example.com does not implement the scale subresource",
    )


async def test_an_eviction_must_name_the_pod_it_is_posted_to(api: ApiClient) -> None:
    await running_pod(api, "web-0")
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"}}
    with pytest.raises(errors.BadRequest) as refused:
        await api.request("POST", "/api/v1/namespaces/default/pods/web-0/eviction", body=body)
    assert refused.value.status["message"] == "name in URL does not match name in Eviction object"
    assert await api.get(PODS, "web-0", namespace="default")
