"""``kill -9`` of the controller manager in the middle of its work.

A Deployment scaled to 500 replicas and then rolled out is interrupted by a
SIGKILL of the ``pynetes controller-manager`` process each time; a new
process picks up from what the API server holds. Throughout, a watch counts
the pods that are not terminating: never more than the Deployment allows
(its replicas while scaling, replicas + maxSurge while rolling). At the end
the cluster holds exactly the desired pods, every one owned by a ReplicaSet
of the Deployment, and no ReplicaSet without it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.hollow import generate_node_specs
from tests.integration.components import ComponentProcess, component
from tests.integration.conftest import Cluster
from tests.integration.controllers.conftest import api
from tests.integration.controllers.harness import eventually
from tests.integration.controllers.nodes import running_nodes

__all__ = ["api"]

Object = dict[str, Any]
PODS = built_in("", "v1", "pods")
DEPLOYMENTS = built_in("apps", "v1", "deployments")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
REPLICAS = 500
MAX_SURGE = 125  # the default 25 % of 500
CONTROLLERS = ("--controllers=deployment,replicaset", "--leader-elect=false", "--kube-api-qps=0")


class PodCount:
    """The pods of the namespace that are not terminating, and the most ever seen at once."""

    def __init__(self, api: ApiClient) -> None:
        self.live: dict[str, Object] = {}
        self.most = 0
        self.changed = asyncio.Event()
        self.informer = Informer(api, PODS, namespace="default")
        self.informer.add_event_handler(
            EventHandler(
                on_add=self._seen,
                on_update=lambda _old, new: self._seen(new),
                on_delete=self._gone,
            )
        )

    def _seen(self, pod: Object) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._gone(pod)
            return
        self.live[pod["metadata"]["name"]] = pod
        self.most = max(self.most, len(self.live))
        self.changed.set()

    def _gone(self, pod: Object) -> None:
        self.live.pop(pod["metadata"]["name"], None)
        self.changed.set()

    def of_version(self, version: str) -> int:
        return sum(
            1
            for pod in self.live.values()
            if (pod["metadata"].get("annotations") or {}).get("version") == version
        )

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition`` holds, looking again after each pod event."""
        async with asyncio.timeout(120):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def watched_pods(api: ApiClient) -> AsyncIterator[PodCount]:
    count = PodCount(api)
    count.informer.start()
    await count.informer.wait_for_sync()
    try:
        yield count
    finally:
        await count.informer.stop()


async def kill_when(
    process: ComponentProcess, pods: PodCount, condition: Callable[[], bool]
) -> None:
    """SIGKILL the process as soon as the pods seen make ``condition`` hold."""
    await pods.until(condition)
    process.process.send_signal(signal.SIGKILL)
    await process.process.wait()


async def settled(api: ApiClient, generation: int) -> bool:
    """The rollout of ``generation`` is complete by kubectl's rule, with exactly REPLICAS pods."""
    found = await api.get(DEPLOYMENTS, "web", namespace="default")
    status = found.get("status") or {}
    done = (
        status.get("observedGeneration", 0) >= generation
        and status.get("updatedReplicas") == REPLICAS
        and status.get("replicas") == REPLICAS
        and status.get("availableReplicas") == REPLICAS
    )
    if not done:
        return False
    pods = (await api.list(PODS, namespace="default"))["items"]
    return len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) == REPLICAS


async def assert_everything_owned(api: ApiClient) -> None:
    deployment = await api.get(DEPLOYMENTS, "web", namespace="default")
    replica_sets = (await api.list(REPLICA_SETS, namespace="default"))["items"]
    uids = {rs["metadata"]["uid"] for rs in replica_sets}
    for replica_set in replica_sets:
        owner = controller_of(replica_set)
        assert owner is not None and owner["uid"] == deployment["metadata"]["uid"]
    for pod in (await api.list(PODS, namespace="default"))["items"]:
        owner = controller_of(pod)
        assert owner is not None and owner["uid"] in uids, pod["metadata"]["name"]


def template(version: str) -> Object:
    return {
        "metadata": {"labels": {"app": "web"}, "annotations": {"version": version}},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
    }


@pytest.mark.slow
async def test_kill_9_while_scaling_and_while_rolling_ends_in_exactly_the_desired_state(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    async with (
        running_nodes(api, generate_node_specs(10, pods=110)),
        watched_pods(api) as pods,
    ):
        deployment = {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template("1"),
            },
        }
        created = await api.create(DEPLOYMENTS, deployment, namespace="default")

        async with component(cluster, tmp_path, "controller-manager", "a", *CONTROLLERS) as first:
            await kill_when(first, pods, lambda: len(pods.live) >= REPLICAS // 4)
        killed_at = len(pods.live)
        async with component(cluster, tmp_path, "controller-manager", "b", *CONTROLLERS):
            await eventually(lambda: settled(api, created["metadata"]["generation"]))
        assert pods.most == REPLICAS, f"at most {pods.most} pods (killed at {killed_at})"
        await assert_everything_owned(api)

        pods.most = len(pods.live)
        changed = await api.patch(
            DEPLOYMENTS, "web", {"spec": {"template": template("2")}}, namespace="default"
        )
        async with component(cluster, tmp_path, "controller-manager", "c", *CONTROLLERS) as third:
            await kill_when(third, pods, lambda: pods.of_version("2") >= REPLICAS // 5)
        async with component(cluster, tmp_path, "controller-manager", "d", *CONTROLLERS):
            await eventually(lambda: settled(api, changed["metadata"]["generation"]))
        assert pods.most <= REPLICAS + MAX_SURGE, f"{pods.most} pods at once"
        await assert_everything_owned(api)
        replica_sets = (await api.list(REPLICA_SETS, namespace="default"))["items"]
        assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [0, REPLICAS]
