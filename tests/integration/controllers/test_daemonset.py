"""The daemonset controller against the real API server, scheduler and hollow nodes."""

from __future__ import annotations

import copy
from typing import Any

from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, NodeSpec, Taint
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.nodes import running_nodes

Object = dict[str, Any]
DAEMON_SETS = built_in("apps", "v1", "daemonsets")
CONTROLLER_REVISIONS = built_in("apps", "v1", "controllerrevisions")
PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
EVENTS = built_in("", "v1", "events")


def daemon_set(name: str, *, node_selector: dict | None = None, **strategy: Any) -> Object:
    spec: Object = {"containers": [{"name": "agent", "image": "agent:1"}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    body: Object = {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }
    if strategy:
        body["spec"]["updateStrategy"] = strategy
    return body


async def daemon_pods(api: ApiClient, name: str) -> list[Object]:
    listed = await api.list(PODS, namespace="default", label_selector=f"app={name}")
    return [pod for pod in listed["items"] if not pod["metadata"].get("deletionTimestamp")]


async def pods_per_node(api: ApiClient, name: str) -> dict[str, list[str]]:
    """The pods of ``name`` by the node they run on ("not ready" for those not running yet)."""
    placed: dict[str, list[str]] = {}
    for pod in await daemon_pods(api, name):
        node = pod["spec"]["nodeName"] if is_ready(pod) else "not ready"
        placed.setdefault(node, []).append(pod["metadata"]["name"])
    return placed


def placed_on(expected: set[str], api: ApiClient, name: str) -> Any:
    async def check() -> dict[str, list[str]] | None:
        placed = await pods_per_node(api, name)
        every_one = all(len(pods) == 1 for pods in placed.values())
        return placed if set(placed) == expected and every_one else None

    return check


async def status_of(api: ApiClient, name: str) -> Object:
    return (await api.get(DAEMON_SETS, name, namespace="default")).get("status") or {}


async def test_one_pod_per_eligible_node_following_labels_and_taints(
    cluster: Cluster, api: ApiClient
) -> None:
    web = {"tier": "web"}
    specs = [
        NodeSpec("web-a", labels=web),
        NodeSpec("web-b", labels=web),
        NodeSpec("web-tainted", labels=web, taints=[Taint("dedicated", "NoSchedule", "db")]),
        NodeSpec("other"),
    ]
    async with running_nodes(api, specs), running_controllers(api, "daemonset"):
        await api.create(DAEMON_SETS, daemon_set("agent", node_selector=web), namespace="default")
        placed = await eventually(placed_on({"web-a", "web-b"}, api, "agent"))

        pod = await api.get(PODS, placed["web-a"][0], namespace="default")
        required = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert required["nodeSelectorTerms"] == [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["web-a"]}]}
        ]
        tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
        assert ("node.kubernetes.io/not-ready", "NoExecute") in tolerated
        assert pod["metadata"]["labels"]["controller-revision-hash"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
        status = await eventually(lambda: _status_with(api, "agent", numberReady=2))
        assert status["desiredNumberScheduled"] == 2
        assert status["currentNumberScheduled"] == 2
        assert status["updatedNumberScheduled"] == 2
        assert status["numberMisscheduled"] == 0
        _, out, _ = await cluster.kubectl("1.31")(
            "rollout", "status", "daemonset/agent", "--timeout=60s"
        )
        assert 'daemon set "agent" successfully rolled out' in out
        _, table, _ = await cluster.kubectl("1.31")("get", "daemonset", "agent")
        header, row = table.splitlines()
        assert header.split()[:6] == [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
        ]
        assert row.split()[:7] == ["agent", "2", "2", "2", "2", "2", "tier=web"]

        async with HollowNodes(api, [NodeSpec("web-new", labels=web)]) as late:
            await late.ready()
            await eventually(placed_on({"web-a", "web-b", "web-new"}, api, "agent"))

            await api.patch(NODES, "web-b", {"metadata": {"labels": {"tier": None}}})
            await eventually(placed_on({"web-a", "web-new"}, api, "agent"))
            await eventually(lambda: _status_with(api, "agent", desiredNumberScheduled=2))

            evicting = {"key": "maintenance", "effect": "NoExecute"}
            await api.patch(NODES, "web-new", {"spec": {"taints": [evicting]}})
            await eventually(placed_on({"web-a"}, api, "agent"))


async def _status_with(api: ApiClient, name: str, **expected: int) -> Object | None:
    status = await status_of(api, name)
    return status if all(status.get(k) == v for k, v in expected.items()) else None


async def test_rolling_update_keeps_within_max_unavailable(
    cluster: Cluster, api: ApiClient
) -> None:
    nodes = [NodeSpec(f"node-{index}") for index in range(4)]
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    fewest_ready = FewestReady("agent")
    watcher = Informer(api, PODS, namespace="default")
    watcher.add_event_handler(EventHandler(fewest_ready.seen, fewest_ready.changed))
    async with running_nodes(api, nodes), running_controllers(api, "daemonset"):
        created = await api.create(
            DAEMON_SETS, daemon_set("agent", **strategy), namespace="default"
        )
        await eventually(placed_on({n.name for n in nodes}, api, "agent"))
        old_pods = {pod["metadata"]["uid"] for pod in await daemon_pods(api, "agent")}
        watcher.start()
        await watcher.wait_for_sync()
        fewest_ready.store = watcher.store
        try:
            changed = copy.deepcopy(created["spec"]["template"])
            changed["spec"]["containers"][0]["image"] = "agent:2"
            await api.patch(
                DAEMON_SETS, "agent", {"spec": {"template": changed}}, namespace="default"
            )
            _, out, _ = await cluster.kubectl("1.31")(
                "rollout", "status", "daemonset/agent", "--timeout=60s"
            )
        finally:
            await watcher.stop()
        assert 'daemon set "agent" successfully rolled out' in out
        pods = await daemon_pods(api, "agent")
        assert len(pods) == 4
        assert not old_pods & {pod["metadata"]["uid"] for pod in pods}
        assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {"agent:2"}
        assert fewest_ready.fewest == 3, "never more than maxUnavailable nodes without a daemon"
        revisions = await api.list(CONTROLLER_REVISIONS, namespace="default")
        numbers = sorted(r["revision"] for r in revisions["items"])
        assert numbers == [1, 2]
        _, history, _ = await cluster.kubectl("1.31")("rollout", "history", "daemonset/agent")
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
            "1",
            "2",
        ]

        await cluster.kubectl("1.31")("rollout", "undo", "daemonset/agent")
        _, out, _ = await cluster.kubectl("1.31")(
            "rollout", "status", "daemonset/agent", "--timeout=60s"
        )
        pods = await daemon_pods(api, "agent")
        assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {"agent:1"}
        revisions = await api.list(CONTROLLER_REVISIONS, namespace="default")
        assert sorted(r["revision"] for r in revisions["items"]) == [2, 3], "undo renumbers"


async def test_surging_update_never_leaves_a_node_without_a_ready_daemon(
    cluster: Cluster, api: ApiClient
) -> None:
    nodes = [NodeSpec(f"node-{index}") for index in range(3)]
    rolling = {"maxUnavailable": 0, "maxSurge": 1}
    fewest_ready = FewestReady("agent")
    watcher = Informer(api, PODS, namespace="default")
    watcher.add_event_handler(EventHandler(fewest_ready.seen, fewest_ready.changed))
    async with running_nodes(api, nodes), running_controllers(api, "daemonset"):
        body = daemon_set("agent", type="RollingUpdate", rollingUpdate=rolling)
        body["spec"]["revisionHistoryLimit"] = 0
        created = await api.create(DAEMON_SETS, body, namespace="default")
        await eventually(placed_on({n.name for n in nodes}, api, "agent"))
        watcher.start()
        await watcher.wait_for_sync()
        fewest_ready.store = watcher.store
        try:
            changed = copy.deepcopy(created["spec"]["template"])
            changed["spec"]["containers"][0]["image"] = "agent:2"
            await api.patch(
                DAEMON_SETS, "agent", {"spec": {"template": changed}}, namespace="default"
            )
            await cluster.kubectl("1.31")("rollout", "status", "daemonset/agent", "--timeout=60s")
            await eventually(placed_on({n.name for n in nodes}, api, "agent"))
        finally:
            await watcher.stop()
        pods = await daemon_pods(api, "agent")
        assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {"agent:2"}
        assert fewest_ready.fewest == 3, "each old pod went only once its successor was ready"

        async def only_the_current_revision() -> bool:
            revisions = await api.list(CONTROLLER_REVISIONS, namespace="default")
            return [r["revision"] for r in revisions["items"]] == [2]

        await eventually(only_the_current_revision)


async def test_a_pod_the_api_refuses_is_reported_as_an_event(api: ApiClient) -> None:
    body = daemon_set("agent")
    body["spec"]["template"]["spec"]["priorityClassName"] = "missing"
    async with running_nodes(api, [NodeSpec("node-0")]), running_controllers(api, "daemonset"):
        await api.create(DAEMON_SETS, body, namespace="default")

        async def failed() -> list[Object]:
            events = await api.list(EVENTS, namespace="default")
            return [e for e in events["items"] if e["reason"] == "FailedCreate"]

        (event, *_) = await eventually(failed)
        assert event["type"] == "Warning"
        assert event["message"].startswith("Error creating:")
        assert await daemon_pods(api, "agent") == []
        assert (await status_of(api, "agent"))["desiredNumberScheduled"] == 1


async def test_a_failed_daemon_pod_is_reported_and_replaced(api: ApiClient) -> None:
    async with running_nodes(api, [NodeSpec("node-0")]), running_controllers(api, "daemonset"):
        await api.create(DAEMON_SETS, daemon_set("agent"), namespace="default")
        placed = await eventually(placed_on({"node-0"}, api, "agent"))
        failed = await api.get(PODS, placed["node-0"][0], namespace="default")
        failed["status"]["phase"] = "Failed"
        await api.replace(PODS, failed, namespace="default", subresource="status")

        async def replaced() -> bool:
            pods = await daemon_pods(api, "agent")
            names = [pod["metadata"]["name"] for pod in pods if is_ready(pod)]
            return len(pods) == 1 and names not in ([], placed["node-0"])

        await eventually(replaced)
        events = await api.list(EVENTS, namespace="default")
        (warning,) = [e for e in events["items"] if e["reason"] == "FailedDaemonPod"]
        assert warning["message"] == (
            f"Found failed daemon pod default/{placed['node-0'][0]} on node node-0, "
            "will try to kill it"
        )


class FewestReady:
    """The fewest nodes seen with a ready, not terminating pod of a DaemonSet."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.store: Any = None
        self.fewest: int | None = None

    def seen(self, _pod: Object) -> None:
        self._count()

    def changed(self, _old: Object, _new: Object) -> None:
        self._count()

    def _count(self) -> None:
        if self.store is None:
            return
        nodes = {
            pod["spec"].get("nodeName")
            for pod in self.store.list()
            if (pod["metadata"].get("labels") or {}).get("app") == self.name
            and not pod["metadata"].get("deletionTimestamp")
            and is_ready(pod)
        }
        self.fewest = len(nodes) if self.fewest is None else min(self.fewest, len(nodes))


async def test_on_delete_replaces_only_deleted_pods(api: ApiClient) -> None:
    nodes = [NodeSpec("node-0"), NodeSpec("node-1")]
    async with running_nodes(api, nodes), running_controllers(api, "daemonset"):
        created = await api.create(
            DAEMON_SETS, daemon_set("agent", type="OnDelete"), namespace="default"
        )
        placed = await eventually(placed_on({"node-0", "node-1"}, api, "agent"))
        changed = copy.deepcopy(created["spec"]["template"])
        changed["spec"]["containers"][0]["image"] = "agent:2"
        await api.patch(DAEMON_SETS, "agent", {"spec": {"template": changed}}, namespace="default")
        generation = (await api.get(DAEMON_SETS, "agent", namespace="default"))["metadata"][
            "generation"
        ]
        await eventually(lambda: _status_with(api, "agent", observedGeneration=generation))
        assert (await status_of(api, "agent"))["updatedNumberScheduled"] == 0

        await api.delete(PODS, placed["node-0"][0], namespace="default")

        async def replaced() -> bool:
            images = {
                pod["spec"]["nodeName"]: pod["spec"]["containers"][0]["image"]
                for pod in await daemon_pods(api, "agent")
                if is_ready(pod)
            }
            return images == {"node-0": "agent:2", "node-1": "agent:1"}

        await eventually(replaced)
        await eventually(lambda: _status_with(api, "agent", updatedNumberScheduled=1))
