"""The statefulset controller against the real API server, scheduler and hollow nodes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.common.history import new_revision
from pynetes.hollow import generate_node_specs
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.nodes import running_nodes

Object = dict[str, Any]
STATEFUL_SETS = built_in("apps", "v1", "statefulsets")
CONTROLLER_REVISIONS = built_in("apps", "v1", "controllerrevisions")
PODS = built_in("", "v1", "pods")
CLAIMS = built_in("", "v1", "persistentvolumeclaims")
EVENTS = built_in("", "v1", "events")


def stateful_set(name: str, replicas: int, **spec: Any) -> Object:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": "server:1"}]},
            },
            **spec,
        },
    }


CLAIM_TEMPLATE = {
    "metadata": {"name": "data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}


async def status_with(api: ApiClient, name: str, **expected: Any) -> Object | None:
    found = await api.get(STATEFUL_SETS, name, namespace="default")
    status = found.get("status") or {}
    return status if all(status.get(k) == v for k, v in expected.items()) else None


async def pod_names(api: ApiClient, name: str) -> list[str]:
    listed = await api.list(PODS, namespace="default", label_selector=f"app={name}")
    return sorted(pod["metadata"]["name"] for pod in listed["items"])


async def pods_by_name(api: ApiClient, name: str) -> dict[str, Object]:
    listed = await api.list(PODS, namespace="default", label_selector=f"app={name}")
    return {pod["metadata"]["name"]: pod for pod in listed["items"]}


class Timeline:
    """What a watch of pods saw, in order: who was ready when each pod appeared, and
    in which order pods started terminating."""

    def __init__(self) -> None:
        self.store: Any = None
        self.ready_when_added: dict[str, set[str]] = {}
        self.terminated: list[str] = []
        self.alive_when_terminated: dict[str, set[str]] = {}

    def added(self, pod: Object) -> None:
        ready = {p["metadata"]["name"] for p in self.store.list() if is_ready(p)}
        self.ready_when_added.setdefault(pod["metadata"]["name"], ready)
        self.changed(pod, pod)

    def changed(self, _old: Object, pod: Object) -> None:
        name = pod["metadata"]["name"]
        if pod["metadata"].get("deletionTimestamp") and name not in self.terminated:
            self.terminated.append(name)
            self.alive_when_terminated[name] = {p["metadata"]["name"] for p in self.store.list()}

    def removed(self, pod: Object) -> None:
        self.changed(pod, pod)


@contextlib.asynccontextmanager
async def timeline(api: ApiClient) -> AsyncIterator[Timeline]:
    seen = Timeline()
    watcher = Informer(api, PODS, namespace="default")
    seen.store = watcher.store
    watcher.add_event_handler(EventHandler(seen.added, seen.changed, seen.removed))
    watcher.start()
    try:
        await watcher.wait_for_sync()
        yield seen
    finally:
        await watcher.stop()


async def test_ordered_ready_creates_in_order_with_identity_and_scales_down_from_the_top(
    cluster: Cluster, api: ApiClient
) -> None:
    body = stateful_set("web", 3, volumeClaimTemplates=[CLAIM_TEMPLATE])
    async with running_controllers(api, "statefulset"), timeline(api) as seen:
        await api.create(STATEFUL_SETS, body, namespace="default")
        # the sync that counts web-0 would have created web-1 before writing its status
        await eventually(lambda: status_with(api, "web", replicas=1))
        assert await pod_names(api, "web") == ["web-0"], "web-1 waits for web-0 to be Ready"
        claim = await api.get(CLAIMS, "data-web-0", namespace="default")
        assert claim["metadata"]["labels"] == {"app": "web"}

        async with running_nodes(api, generate_node_specs(2)):
            await eventually(lambda: status_with(api, "web", readyReplicas=3, replicas=3))
            _, out, _ = await cluster.kubectl("1.31")(
                "rollout", "status", "statefulset/web", "--timeout=60s"
            )
            assert "partitioned roll out complete: 3 new pods have been updated" in out
            _, table, _ = await cluster.kubectl("1.31")("get", "statefulset", "web")
            assert table.splitlines()[1].split()[:2] == ["web", "3/3"]
            assert seen.ready_when_added["web-1"] >= {"web-0"}
            assert seen.ready_when_added["web-2"] >= {"web-0", "web-1"}

            pods = await pods_by_name(api, "web")
            web1 = pods["web-1"]
            assert web1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
            assert web1["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
            status = await status_with(api, "web")
            assert (
                web1["metadata"]["labels"]["controller-revision-hash"] == (status["updateRevision"])
            )
            assert status["currentRevision"] == status["updateRevision"]
            assert (web1["spec"]["hostname"], web1["spec"]["subdomain"]) == ("web-1", "web")
            volumes = {v["name"]: v for v in web1["spec"]["volumes"]}
            assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "data-web-1"}
            events = await api.list(EVENTS, namespace="default")
            messages = {e["message"] for e in events["items"] if e["reason"] == "SuccessfulCreate"}
            assert "create Pod web-0 in StatefulSet web successful" in messages
            assert "create Claim data-web-2 Pod web-2 in StatefulSet web success" in messages

            await api.patch(STATEFUL_SETS, "web", {"spec": {"replicas": 1}}, namespace="default")
            await eventually(lambda: status_with(api, "web", replicas=1, readyReplicas=1))
            assert await pod_names(api, "web") == ["web-0"]
            assert seen.terminated == ["web-2", "web-1"]
            assert "web-2" not in seen.alive_when_terminated["web-1"], "one at a time"
            events = await api.list(EVENTS, namespace="default")
            deleted = {e["message"] for e in events["items"] if e["reason"] == "SuccessfulDelete"}
            assert "delete Pod web-2 in StatefulSet web successful" in deleted
            # the claims stay (whenScaled: Retain, the default)
            await api.get(CLAIMS, "data-web-2", namespace="default")


async def test_partitioned_rolling_update_updates_from_the_top_down_to_the_partition(
    cluster: Cluster, api: ApiClient
) -> None:
    async with running_nodes(api, generate_node_specs(2)), running_controllers(api, "statefulset"):
        created = await api.create(STATEFUL_SETS, stateful_set("web", 3), namespace="default")
        await eventually(lambda: status_with(api, "web", readyReplicas=3))
        first = (await status_with(api, "web"))["updateRevision"]
        template = created["spec"]["template"]
        template["spec"]["containers"][0]["image"] = "server:2"
        patch = {
            "spec": {
                "template": template,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            }
        }
        async with timeline(api) as seen:
            await api.patch(STATEFUL_SETS, "web", patch, namespace="default")
            _, out, _ = await cluster.kubectl("1.31")(
                "rollout", "status", "statefulset/web", "--timeout=60s"
            )
            assert "partitioned roll out complete: 2 new pods have been updated" in out
            assert seen.terminated == ["web-2", "web-1"]
        status = await eventually(lambda: status_with(api, "web", updatedReplicas=2))
        second = status["updateRevision"]
        assert second != first and status["currentRevision"] == first
        images = {
            name: pod["spec"]["containers"][0]["image"]
            for name, pod in (await pods_by_name(api, "web")).items()
        }
        assert images == {"web-0": "server:1", "web-1": "server:2", "web-2": "server:2"}

        await api.patch(
            STATEFUL_SETS,
            "web",
            {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
            namespace="default",
        )
        _, out, _ = await cluster.kubectl("1.31")(
            "rollout", "status", "statefulset/web", "--timeout=60s"
        )
        # kubectl reports any set partition (0 too) as a partitioned roll out
        assert "partitioned roll out complete: 3 new pods have been updated" in out
        status = await status_with(api, "web")
        assert status["currentRevision"] == status["updateRevision"] == second
        assert status["currentReplicas"] == status["updatedReplicas"] == 3

        # kubectl puts the first template back from its revision, which is renumbered newest
        await cluster.kubectl("1.31")("rollout", "undo", "statefulset/web")
        await eventually(lambda: status_with(api, "web", currentRevision=first, updatedReplicas=3))
        revisions = await api.list(CONTROLLER_REVISIONS, namespace="default")
        numbers = {r["metadata"]["name"]: r["revision"] for r in revisions["items"]}
        assert numbers == {first: 3, second: 2}


async def test_parallel_creates_and_deletes_without_waiting(api: ApiClient) -> None:
    body = stateful_set(
        "db",
        3,
        ordinals={"start": 1},
        podManagementPolicy="Parallel",
        volumeClaimTemplates=[CLAIM_TEMPLATE],
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"},
    )
    async with running_controllers(api, "statefulset"):
        created = await api.create(STATEFUL_SETS, body, namespace="default")
        # no node runs them, so none is ever Ready: Parallel does not wait
        await eventually(lambda: status_with(api, "db", replicas=3))
        pods = await pods_by_name(api, "db")
        assert sorted(pods) == ["db-1", "db-2", "db-3"]
        assert not any(is_ready(pod) for pod in pods.values())
        claim = await api.get(CLAIMS, "data-db-2", namespace="default")
        (owner,) = claim["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("StatefulSet", created["metadata"]["uid"])

        await api.patch(STATEFUL_SETS, "db", {"spec": {"replicas": 0}}, namespace="default")

        async def gone() -> bool:
            return not [
                pod
                for pod in (await pods_by_name(api, "db")).values()
                if not pod["metadata"].get("deletionTimestamp")
            ]

        await eventually(gone)
        # scaled away with whenScaled: Delete, each claim now goes with its pod
        claim = await api.get(CLAIMS, "data-db-3", namespace="default")
        (owner,) = claim["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("Pod", pods["db-3"]["metadata"]["uid"])


async def test_on_delete_updates_a_pod_only_when_it_is_deleted(api: ApiClient) -> None:
    body = stateful_set("web", 2, updateStrategy={"type": "OnDelete"})
    async with running_nodes(api, generate_node_specs(1)), running_controllers(api, "statefulset"):
        created = await api.create(STATEFUL_SETS, body, namespace="default")
        await eventually(lambda: status_with(api, "web", readyReplicas=2))
        template = created["spec"]["template"]
        template["spec"]["containers"][0]["image"] = "server:2"
        await api.patch(STATEFUL_SETS, "web", {"spec": {"template": template}}, namespace="default")
        generation = (await api.get(STATEFUL_SETS, "web", namespace="default"))["metadata"][
            "generation"
        ]
        status = await eventually(lambda: status_with(api, "web", observedGeneration=generation))
        assert (
            status.get("updatedReplicas") is None
            and status["currentRevision"] != (status["updateRevision"])
        )

        old = (await pods_by_name(api, "web"))["web-1"]
        await api.delete(PODS, "web-1", namespace="default")

        async def replaced() -> dict[str, str] | None:
            pods = await pods_by_name(api, "web")
            web1 = pods.get("web-1")
            if web1 is None or web1["metadata"]["uid"] == old["metadata"]["uid"]:
                return None
            return {name: pod["spec"]["containers"][0]["image"] for name, pod in pods.items()}

        images = await eventually(replaced)
        assert images == {"web-0": "server:1", "web-1": "server:2"}
        await eventually(lambda: status_with(api, "web", updatedReplicas=1, readyReplicas=2))


async def test_a_pod_the_api_refuses_is_reported_as_an_event(api: ApiClient) -> None:
    body = stateful_set("bad", 1)
    body["spec"]["template"]["spec"]["priorityClassName"] = "missing"
    async with running_controllers(api, "statefulset"):
        await api.create(STATEFUL_SETS, body, namespace="default")

        async def failed() -> list[Object]:
            events = await api.list(EVENTS, namespace="default")
            return [e for e in events["items"] if e["reason"] == "FailedCreate"]

        (event,) = await eventually(failed)
        assert event["type"] == "Warning"
        assert event["message"].startswith("create Pod bad-0 in StatefulSet bad failed error:")
        assert "missing" in event["message"]
        assert await pod_names(api, "bad") == []


async def test_a_name_taken_by_a_stranger_is_reported_and_left_alone(api: ApiClient) -> None:
    stranger = {
        "metadata": {"name": "web-0", "labels": {"app": "other"}},
        "spec": {"containers": [{"name": "c", "image": "other:1"}]},
    }
    await api.create(PODS, stranger, namespace="default")
    async with running_controllers(api, "statefulset"):
        await api.create(STATEFUL_SETS, stateful_set("web", 1), namespace="default")

        async def failed() -> list[Object]:
            events = await api.list(EVENTS, namespace="default")
            return [e for e in events["items"] if e["reason"] == "FailedCreate"]

        (event, *_) = await eventually(failed)
        assert "create Pod web-0 in StatefulSet web failed error:" in event["message"]
        pod = await api.get(PODS, "web-0", namespace="default")
        assert pod["spec"]["containers"][0]["image"] == "other:1"
        assert not pod["metadata"].get("ownerReferences")


async def test_ordered_ready_waits_until_a_pod_has_been_ready_for_min_ready_seconds(
    api: ApiClient,
) -> None:
    skew = {"seconds": 0.0}

    def wall_clock() -> float:
        return time.time() + skew["seconds"]

    body = stateful_set("web", 2, minReadySeconds=600)
    async with (
        running_nodes(api, generate_node_specs(1)),
        running_controllers(api, "statefulset", wall_clock=wall_clock),
    ):
        await api.create(STATEFUL_SETS, body, namespace="default")
        # the sync writing this status saw web-0 ready: any creation would precede it
        await eventually(lambda: status_with(api, "web", readyReplicas=1, availableReplicas=0))
        assert await pod_names(api, "web") == ["web-0"]

        skew["seconds"] = 601.0
        # any change brings the set back before its 600 s requeue; a label will do
        touch = {"metadata": {"labels": {"touched": "yes"}}}
        await api.patch(STATEFUL_SETS, "web", touch, namespace="default")
        await eventually(lambda: status_with(api, "web", readyReplicas=2, availableReplicas=2))


async def test_a_revision_name_taken_by_other_data_is_a_collision(api: ApiClient) -> None:
    created = await api.create(STATEFUL_SETS, stateful_set("web", 1), namespace="default")
    expected = new_revision(created, "apps/v1", "StatefulSet", number=1, collision_count=0)
    squatter = {
        "metadata": {"name": expected["metadata"]["name"]},
        "data": {"something": "else"},
        "revision": 1,
    }
    await api.create(CONTROLLER_REVISIONS, squatter, namespace="default")
    async with running_controllers(api, "statefulset"):
        status = await eventually(lambda: status_with(api, "web", collisionCount=1))
    assert status["updateRevision"] != squatter["metadata"]["name"]
    revision = await api.get(CONTROLLER_REVISIONS, status["updateRevision"], namespace="default")
    assert revision["data"] == expected["data"]
    assert revision["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
