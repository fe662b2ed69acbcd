"""The deployment controller against the real API server.

Most tests play the replicaset controller's part as upstream's deployment
controller tests do: :func:`reporting_replica_sets` writes each
ReplicaSet's status as if its pods came and went at once (available or
not, as the test says).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.controllers.deployment.revision import template_hash
from pynetes.hollow import generate_node_specs
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.nodes import running_nodes

Object = dict[str, Any]

DEPLOYMENTS = built_in("apps", "v1", "deployments")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
NS = "default"


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1", **spec: Any) -> Object:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }


def rolling(max_surge: int | str, max_unavailable: int | str) -> Object:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }


def always(_replica_set: Object) -> bool:
    return True


@contextlib.asynccontextmanager
async def reporting_replica_sets(
    api: ApiClient, available: Callable[[Object], bool] = always
) -> AsyncIterator[None]:
    """Play the replicaset controller: each ReplicaSet's status follows its spec at once.

    Its pods are all there; all available if ``available(replica_set)``, none otherwise.
    """

    async def report() -> None:
        while True:
            for replica_set in (await api.list(REPLICA_SETS, namespace=NS))["items"]:
                size = replica_set["spec"]["replicas"]
                ready = size if available(replica_set) else 0
                status = {
                    "replicas": size,
                    "fullyLabeledReplicas": size,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "observedGeneration": replica_set["metadata"]["generation"],
                }
                status = {k: v for k, v in status.items() if v}
                if replica_set.get("status") != status:
                    with contextlib.suppress(errors.Conflict, errors.NotFound):
                        await api.replace(
                            REPLICA_SETS, {**replica_set, "status": status}, subresource="status"
                        )
            await asyncio.sleep(0.02)

    task = asyncio.create_task(report())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def replica_sets(api: ApiClient) -> list[Object]:
    items = (await api.list(REPLICA_SETS, namespace=NS))["items"]
    return sorted(
        items, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    )


REVISION = "deployment.kubernetes.io/revision"


async def get(api: ApiClient, name: str = "web") -> Object:
    return await api.get(DEPLOYMENTS, name, namespace=NS)


def conditions(obj: Object) -> dict[str, tuple[str, str]]:
    return {
        c["type"]: (c["status"], c["reason"])
        for c in (obj.get("status") or {}).get("conditions", [])
    }


async def complete(api: ApiClient, name: str = "web") -> Object | None:
    """The Deployment once its rollout is done by kubectl's rule, else None."""
    found = await get(api, name)
    status = found.get("status") or {}
    replicas = found["spec"]["replicas"]
    done = (
        status.get("observedGeneration", 0) >= found["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
        and conditions(found).get("Progressing", ("", ""))[1] == "NewReplicaSetAvailable"
    )
    return found if done else None


async def events(api: ApiClient, reason: str) -> list[str]:
    items = (await api.list(EVENTS, namespace=NS))["items"]
    return [e["message"] for e in items if e.get("reason") == reason]


async def set_image(api: ApiClient, image: str, name: str = "web") -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
    await api.patch(DEPLOYMENTS, name, patch, patch_type="strategic", namespace=NS)


async def test_a_new_deployment_gets_a_named_replica_set_and_becomes_available(
    api: ApiClient, cluster: Cluster
) -> None:
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        created = await api.create(DEPLOYMENTS, deployment(replicas=3))
        done = await eventually(lambda: complete(api))

        [replica_set] = await replica_sets(api)
        pod_hash = replica_set["metadata"]["labels"]["pod-template-hash"]
        assert replica_set["metadata"]["name"] == f"web-{pod_hash}"
        assert replica_set["spec"]["selector"]["matchLabels"] == {
            "app": "web",
            "pod-template-hash": pod_hash,
        }
        assert (
            replica_set["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
        )
        assert controller_of(replica_set)["uid"] == created["metadata"]["uid"]
        annotations = replica_set["metadata"]["annotations"]
        assert annotations[REVISION] == "1"
        assert annotations["deployment.kubernetes.io/desired-replicas"] == "3"
        assert annotations["deployment.kubernetes.io/max-replicas"] == "4"  # 25% of 3, up
        assert done["metadata"]["annotations"][REVISION] == "1"
        assert conditions(done) == {
            "Available": ("True", "MinimumReplicasAvailable"),
            "Progressing": ("True", "NewReplicaSetAvailable"),
        }
        status = done["status"]
        assert (status["readyReplicas"], status["updatedReplicas"]) == (3, 3)
        assert "unavailableReplicas" not in status
        message = f"Scaled up replica set web-{pod_hash} from 0 to 3"
        assert message in await eventually(lambda: events(api, "ScalingReplicaSet"))

        kubectl = cluster.kubectl()
        _, out, _ = await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
        assert "successfully rolled out" in out
        _, described, _ = await kubectl("describe", "deployment", "web")
        assert f"NewReplicaSet:   web-{pod_hash} (3/3 replicas created)" in described
        assert f"Scaled up replica set web-{pod_hash} from 0 to 3" in described


async def test_a_rolling_update_stays_within_surge_and_unavailability(api: ApiClient) -> None:
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        await api.create(DEPLOYMENTS, deployment(replicas=4, strategy=rolling(1, 1)))
        await eventually(lambda: complete(api))

        seen: list[tuple[int, int]] = []

        async def watch() -> None:
            while True:
                sets = (await api.list(REPLICA_SETS, namespace=NS))["items"]
                total = sum(rs["spec"]["replicas"] for rs in sets)
                available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in sets)
                seen.append((total, available))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        await set_image(api, "nginx:2")
        await eventually(lambda: complete(api))
        watcher.cancel()

        assert max(total for total, _ in seen) <= 4 + 1
        assert min(available for _, available in seen) >= 4 - 1
        old, new = await replica_sets(api)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
        assert new["metadata"]["annotations"][REVISION] == "2"
        assert (await get(api))["metadata"]["annotations"][REVISION] == "2"


async def test_scaling_mid_rollout_is_proportional(api: ApiClient, cluster: Cluster) -> None:
    def old_only(replica_set: Object) -> bool:
        return "nginx:1" in json.dumps(replica_set["spec"]["template"])

    async with running_controllers(api, "deployment"), reporting_replica_sets(api, old_only):
        await api.create(DEPLOYMENTS, deployment(replicas=10, strategy=rolling(3, 2)))
        await eventually(lambda: complete(api))
        await set_image(api, "nginx:broken")

        async def sizes() -> list[int] | None:
            found = [rs["spec"]["replicas"] for rs in await replica_sets(api)]
            return found if found == [8, 5] else None

        # 13 may exist; 8 must stay available: the new pods never become available
        await eventually(sizes)
        await cluster.kubectl()("scale", "deployment/web", "--replicas=20")

        async def scaled() -> list[int] | None:
            found = [rs["spec"]["replicas"] for rs in await replica_sets(api)]
            return found if found == [14, 9] else None

        # 10 more pods (23 allowed), shared as 8:5 of 13
        await eventually(scaled)
        old, new = await replica_sets(api)
        assert old["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "20"
        assert new["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "23"


async def test_recreate_waits_for_old_pods_to_be_gone(api: ApiClient) -> None:
    async with running_controllers(api, "deployment"):
        await api.create(DEPLOYMENTS, deployment(replicas=2, strategy={"type": "Recreate"}))
        [old] = await eventually(lambda: replica_sets(api))
        await report(api, old, 2)
        await eventually(lambda: complete(api))
        pod = await api.create(PODS, pod_of(old), namespace=NS)

        await set_image(api, "nginx:2")

        async def scaled_down() -> Object | None:
            [found] = await replica_sets(api)
            return found if found["spec"]["replicas"] == 0 else None

        old = await eventually(scaled_down)
        await report(api, old, 0)

        async def status_seen() -> bool:
            return (await get(api)).get("status", {}).get("replicas", 0) == 0

        await eventually(status_seen)
        assert len(await replica_sets(api)) == 1, "a pod of the old version still runs"

        await api.delete(PODS, pod["metadata"]["name"], namespace=NS)

        async def new_made() -> list[Object] | None:
            found = await replica_sets(api)
            return found if len(found) == 2 else None

        _, new = await eventually(new_made)
        assert new["spec"]["replicas"] == 2
        assert "nginx:2" in json.dumps(new["spec"]["template"])


async def report(api: ApiClient, replica_set: Object, available: int) -> None:
    """The replicaset controller's status for ``replica_set`` with ``available`` pods."""
    status = {"replicas": available, "readyReplicas": available, "availableReplicas": available}
    status["observedGeneration"] = replica_set["metadata"]["generation"]
    fresh = await api.get(REPLICA_SETS, replica_set["metadata"]["name"], namespace=NS)
    await api.replace(REPLICA_SETS, {**fresh, "status": status}, subresource="status")


def pod_of(replica_set: Object) -> Object:
    template = replica_set["spec"]["template"]
    reference = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": replica_set["metadata"]["name"],
        "uid": replica_set["metadata"]["uid"],
        "controller": True,
    }
    return {
        "metadata": {
            "name": "old-pod",
            "labels": template["metadata"]["labels"],
            "ownerReferences": [reference],
        },
        "spec": template["spec"],
    }


async def test_a_paused_deployment_scales_but_does_not_roll_out(
    api: ApiClient, cluster: Cluster
) -> None:
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        await api.create(DEPLOYMENTS, deployment(replicas=2))
        await eventually(lambda: complete(api))
        await cluster.kubectl()("rollout", "pause", "deployment/web")

        async def paused() -> bool:
            return conditions(await get(api))["Progressing"] == ("Unknown", "DeploymentPaused")

        await eventually(paused)
        await set_image(api, "nginx:2")
        await api.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 5}}, namespace=NS)

        async def scaled() -> Object | None:
            found = await replica_sets(api)
            return found if [rs["spec"]["replicas"] for rs in found] == [5] else None

        [only] = await eventually(scaled)
        assert "nginx:1" in json.dumps(only["spec"]["template"])

        await cluster.kubectl()("rollout", "resume", "deployment/web")
        done = await eventually(lambda: complete(api))
        assert done["metadata"]["annotations"][REVISION] == "2"
        assert [rs["spec"]["replicas"] for rs in await replica_sets(api)] == [0, 5]


async def test_a_rollout_that_never_becomes_available_exceeds_its_deadline(
    api: ApiClient, cluster: Cluster
) -> None:
    offset = 0.0

    def wall_clock() -> float:
        return time.time() + offset

    def never(_replica_set: Object) -> bool:
        return False

    async with (
        running_controllers(api, "deployment", wall_clock=wall_clock),
        reporting_replica_sets(api, never),
    ):
        await api.create(
            DEPLOYMENTS, deployment(replicas=2, image="no-such-image", progressDeadlineSeconds=60)
        )

        async def progressing() -> bool:
            found = await get(api)
            state = conditions(found).get("Progressing")
            return found.get("status", {}).get("replicas") == 2 and state == (
                "True",
                "ReplicaSetUpdated",
            )

        await eventually(progressing)
        offset = 61.0
        # anything that wakes the controller; its own recheck is a real minute away
        await api.patch(DEPLOYMENTS, "web", {"metadata": {"labels": {"poke": "1"}}}, namespace=NS)

        async def timed_out() -> Object | None:
            found = await get(api)
            return (
                found if conditions(found)["Progressing"][1] == "ProgressDeadlineExceeded" else None
            )

        found = await eventually(timed_out)
        assert conditions(found) == {
            "Available": ("False", "MinimumReplicasUnavailable"),
            "Progressing": ("False", "ProgressDeadlineExceeded"),
        }
        [message] = await eventually(lambda: events(api, "ProgressDeadlineExceeded"))
        assert "has timed out progressing" in message
        code, _, err = await cluster.kubectl()("rollout", "status", "deployment/web", check=False)
        assert code != 0
        assert 'deployment "web" exceeded its progress deadline' in err


async def test_old_replica_sets_beyond_the_history_limit_are_deleted(api: ApiClient) -> None:
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        await api.create(DEPLOYMENTS, deployment(replicas=1, revisionHistoryLimit=1))
        for version in range(2, 5):
            await eventually(lambda: complete(api))
            await set_image(api, f"nginx:{version}")
        await eventually(lambda: complete(api))

        async def pruned() -> list[Object] | None:
            found = await replica_sets(api)
            return found if len(found) == 2 else None

        old, new = await eventually(pruned)
        assert (old["metadata"]["annotations"][REVISION], old["spec"]["replicas"]) == ("3", 0)
        assert new["metadata"]["annotations"][REVISION] == "4"


async def test_kubectl_rollout_history_and_undo(api: ApiClient, cluster: Cluster) -> None:
    kubectl = cluster.kubectl()
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        await api.create(DEPLOYMENTS, deployment(replicas=2))
        await eventually(lambda: complete(api))
        await set_image(api, "nginx:2")
        await eventually(lambda: complete(api))

        _, history, _ = await kubectl("rollout", "history", "deployment/web")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

        await kubectl("rollout", "undo", "deployment/web")
        _, out, _ = await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
        assert "successfully rolled out" in out

        async def rolled_back() -> list[Object] | None:
            found = await replica_sets(api)
            return found if found[-1]["metadata"]["annotations"][REVISION] == "3" else None

        older, current = await eventually(rolled_back)
        assert "nginx:1" in json.dumps(current["spec"]["template"])
        assert (
            current["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        )
        assert (older["spec"]["replicas"], current["spec"]["replicas"]) == (0, 2)
        _, history, _ = await kubectl("rollout", "history", "deployment/web")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


async def test_an_orphan_replica_set_with_the_template_is_adopted(api: ApiClient) -> None:
    template = deployment()["spec"]["template"]
    orphan = {
        "metadata": {"name": "web-orphan", "namespace": NS, "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    await api.create(REPLICA_SETS, orphan)
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        created = await api.create(DEPLOYMENTS, deployment(replicas=3))
        await eventually(lambda: complete(api))
        [adopted] = await replica_sets(api)
        assert adopted["metadata"]["name"] == "web-orphan"
        assert controller_of(adopted)["uid"] == created["metadata"]["uid"]


async def test_a_selector_that_does_not_match_the_template_is_refused(api: ApiClient) -> None:
    bad = deployment()
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(errors.Invalid) as refused:
        await api.create(DEPLOYMENTS, bad)
    assert "`selector` does not match template `labels`" in str(refused.value)


def counts(pods: list[Object]) -> tuple[int, int]:
    """(pods that count towards replicas, of which ready): not being deleted, not finished."""
    alive = [
        pod
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]
    ready = [
        pod
        for pod in alive
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
    ]
    return len(alive), len(ready)


async def test_pods_roll_over_with_the_replicaset_controller_scheduler_and_nodes(
    api: ApiClient, cluster: Cluster
) -> None:
    async with (
        running_nodes(api, generate_node_specs(2)),
        running_controllers(api, "deployment", "replicaset"),
    ):
        await api.create(DEPLOYMENTS, deployment(replicas=6, strategy=rolling(2, 1)))
        await eventually(lambda: complete(api))
        seen: list[tuple[int, int]] = []

        async def watch() -> None:
            while True:
                seen.append(counts((await api.list(PODS, namespace=NS))["items"]))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        await set_image(api, "nginx:2")
        _, out, _ = await cluster.kubectl()("rollout", "status", "deployment/web", "--timeout=60s")
        watcher.cancel()

        assert "successfully rolled out" in out
        assert max(alive for alive, _ in seen) <= 6 + 2
        assert min(ready for _, ready in seen) >= 6 - 1
        pods = (await api.list(PODS, namespace=NS))["items"]
        new_hash = (await replica_sets(api))[-1]["metadata"]["labels"]["pod-template-hash"]
        current = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert {p["metadata"]["labels"]["pod-template-hash"] for p in current} == {new_hash}
        assert counts(current) == (6, 6)


async def test_a_replica_set_the_api_refuses_is_reported(api: ApiClient) -> None:
    name = "w" * 250  # a valid Deployment name; with "-<hash>" too long for its ReplicaSet
    async with running_controllers(api, "deployment"):
        long_named = deployment()
        long_named["metadata"]["name"] = name
        await api.create(DEPLOYMENTS, long_named)

        async def refused() -> Object | None:
            found = await get(api, name)
            state = conditions(found).get("Progressing")
            return found if state == ("False", "ReplicaSetCreateError") else None

        found = await eventually(refused)
        [progressing] = [c for c in found["status"]["conditions"] if c["type"] == "Progressing"]
        assert progressing["message"].startswith(f'Failed to create new replica set "{name}-')
        assert "must be no more than 253 characters" in progressing["message"]
        # (its Warning Event is refused too: an Event's name is the object's plus a suffix)
        assert await replica_sets(api) == []


async def test_a_name_taken_by_another_replica_set_is_a_collision_avoided(api: ApiClient) -> None:
    stored = await api.create(DEPLOYMENTS, deployment(replicas=1))
    taken = f"web-{template_hash(stored['spec']['template'], None)}"
    other = deployment("other")["spec"]
    await api.create(
        REPLICA_SETS,
        {"metadata": {"name": taken, "namespace": NS}, "spec": {**other, "replicas": 0}},
    )
    async with running_controllers(api, "deployment"), reporting_replica_sets(api):
        done = await eventually(lambda: complete(api))
        assert done["status"]["collisionCount"] == 1
        names = {rs["metadata"]["name"] for rs in await replica_sets(api)}
        assert names == {taken, f"web-{template_hash(stored['spec']['template'], 1)}"}


async def test_recreate_never_runs_two_versions_at_once(api: ApiClient, cluster: Cluster) -> None:
    async with (
        running_nodes(api, generate_node_specs(2)),
        running_controllers(api, "deployment", "replicaset"),
    ):
        await api.create(DEPLOYMENTS, deployment(replicas=3, strategy={"type": "Recreate"}))
        await eventually(lambda: complete(api))
        versions_seen: list[set[str]] = []

        async def watch() -> None:
            while True:
                pods = (await api.list(PODS, namespace=NS))["items"]
                versions_seen.append({p["metadata"]["labels"]["pod-template-hash"] for p in pods})
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        await set_image(api, "nginx:2")
        _, out, _ = await cluster.kubectl()("rollout", "status", "deployment/web", "--timeout=60s")
        watcher.cancel()

        assert "successfully rolled out" in out
        assert max(len(versions) for versions in versions_seen) == 1
        assert len({frozenset(versions) for versions in versions_seen if versions}) == 2
