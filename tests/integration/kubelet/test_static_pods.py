"""Static pods from a folder, and their mirror pods in the real API server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynetes.api.resources import built_in
from pynetes.apiserver.app import ServerOptions, start
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.mirror import PODS, MirrorPods, is_mirror_pod
from pynetes.kubelet.nodestatus import NodeStatusReporter
from pynetes.kubelet.staticpods import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_MIRROR_ANNOTATION,
    INVALID_MANIFEST_REASON,
    StaticPodSource,
)
from tests.integration.conftest import Cluster, Restartable

Object = dict[str, Any]
GUARD = 60.0
NODE = "node-s"
EVENTS = built_in("", "v1", "events")
#: Long enough that only inotify can explain a prompt update.
NEVER = 3600.0

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: kube-system
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "{command}"]
"""


def write(folder: Path, name: str, text: str) -> None:
    """Write a manifest as tools should: a dotfile renamed into place."""
    temporary = folder / f".{name}.tmp"
    temporary.write_text(text)
    os.replace(temporary, folder / name)


async def until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll ``check`` (a test of the API or of what the source reported) until it holds."""
    async with asyncio.timeout(GUARD):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(0.05)


@dataclass
class StaticNode:
    """A registered node whose static pod source feeds its mirror pods."""

    folder: Path
    updates: list[list[Object]]
    mirrors: MirrorPods


@contextlib.asynccontextmanager
async def static_node(api: ApiClient, folder: Path) -> AsyncIterator[StaticNode]:
    reporter = NodeStatusReporter(api, KubeletConfiguration(), NODE)
    node = await reporter.register()
    mirrors = MirrorPods(api, NODE, node["metadata"]["uid"], period=NEVER, retry=0.1)
    updates: list[list[Object]] = []

    def on_update(pods: list[Object]) -> None:
        updates.append(pods)
        mirrors.set_static_pods(pods)

    pods = Informer(api, PODS, field_selector=f"spec.nodeName={NODE}")
    poke = EventHandler(
        on_add=lambda pod: is_mirror_pod(pod) and mirrors.poke(),
        on_update=lambda _old, pod: is_mirror_pod(pod) and mirrors.poke(),
        on_delete=lambda pod: is_mirror_pod(pod) and mirrors.poke(),
    )
    pods.add_event_handler(poke)
    async with EventRecorder(api, "kubelet", reporting_instance=NODE) as recorder:
        source = StaticPodSource(folder, NODE, on_update, recorder, period=NEVER)
        pods.start()
        await pods.wait_for_sync()
        tasks = [
            asyncio.create_task(source.run()),
            asyncio.create_task(mirrors.run(pods.store.list)),
        ]
        try:
            yield StaticNode(folder, updates, mirrors)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await pods.stop()


async def mirror(api: ApiClient, name: str) -> Object | None:
    pods = (await api.list(PODS, namespace="kube-system"))["items"]
    return next((pod for pod in pods if pod["metadata"]["name"] == name), None)


async def test_files_added_changed_and_removed_are_reported_at_once(
    api: ApiClient, tmp_path: Path
) -> None:
    async with static_node(api, tmp_path) as node:
        await until(lambda: len(node.updates) == 1)
        assert node.updates[0] == []
        write(tmp_path, "web.yaml", MANIFEST.format(name="web", command="sleep 1000"))

        def names() -> list[str]:
            return [pod["metadata"]["name"] for pod in node.updates[-1]]

        await until(lambda: names() == ["web-node-s"])
        first_hash = node.updates[-1][0]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        write(tmp_path, "web.yaml", MANIFEST.format(name="web", command="sleep 2000"))

        def current_hash() -> str:
            return node.updates[-1][0]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]

        await until(lambda: current_hash() != first_hash)
        (tmp_path / "web.yaml").unlink()
        await until(lambda: names() == [])


async def test_a_broken_manifest_is_an_event_on_the_node_and_spares_the_others(
    api: ApiClient, tmp_path: Path
) -> None:
    write(tmp_path, "good.yaml", MANIFEST.format(name="good", command="true"))
    write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c}]}\n")
    async with static_node(api, tmp_path) as node:
        await until(lambda: bool(node.updates))
        assert [pod["metadata"]["name"] for pod in node.updates[-1]] == ["good-node-s"]

        async def warned() -> Object | None:
            for event in (await api.list(EVENTS, namespace="default"))["items"]:
                involved = event["involvedObject"]
                if (involved.get("kind"), involved.get("name")) == ("Node", NODE) and event[
                    "reason"
                ] == INVALID_MANIFEST_REASON:
                    return event
            return None

        await until(lambda: _present(warned()))
        event = await warned()
        assert event is not None and event["type"] == "Warning"
        assert "broken.yaml" in event["message"]


async def test_mirror_pods_follow_the_static_pods(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    write(tmp_path, "web.yaml", MANIFEST.format(name="web", command="sleep 1000"))
    async with static_node(api, tmp_path) as node:
        await until(lambda: _present(mirror(api, "web-node-s")))
        created = await mirror(api, "web-node-s")
        assert created is not None
        static = node.updates[-1][0]
        annotations = created["metadata"]["annotations"]
        static_hash = static["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        assert annotations[CONFIG_MIRROR_ANNOTATION] == static_hash
        assert annotations["kubernetes.io/config.source"] == "file"
        (owner,) = created["metadata"]["ownerReferences"]
        assert owner == {"apiVersion": "v1", "kind": "Node", "name": NODE,
                         "uid": node.mirrors.node_uid, "controller": True}  # fmt: skip
        assert created["spec"]["nodeName"] == NODE

        _, out, _ = await cluster.kubectl("1.31")("get", "pods", "-A")
        assert any(line.split()[:2] == ["kube-system", "web-node-s"] for line in out.splitlines())

        # a deleted mirror pod comes back, and the static pod is not touched
        reported = len(node.updates)
        await api.delete(PODS, "web-node-s", namespace="kube-system")

        async def recreated() -> bool:
            pod = await mirror(api, "web-node-s")
            return pod is not None and pod["metadata"]["uid"] != created["metadata"]["uid"]

        await until(recreated)
        assert len(node.updates) == reported

        # a changed static pod replaces its mirror pod
        write(tmp_path, "web.yaml", MANIFEST.format(name="web", command="sleep 2000"))

        async def replaced() -> bool:
            pod = await mirror(api, "web-node-s")
            return (
                pod is not None
                and pod["metadata"]["annotations"][CONFIG_MIRROR_ANNOTATION] != static_hash
            )

        await until(replaced)
        pod = await mirror(api, "web-node-s")
        assert pod is not None
        assert "sleep 2000" in pod["spec"]["containers"][0]["command"][-1]

        # a removed static pod takes its mirror pod along
        (tmp_path / "web.yaml").unlink()
        await until(lambda: _absent(mirror(api, "web-node-s")))
        # made: first, after the user's deletion, for the new version; deleted: the one the
        # user's graceful deletion left terminating, the old version, the removed pod's
        assert (node.mirrors.created, node.mirrors.deleted) == (3, 3)


async def _present(found: Awaitable[Object | None]) -> bool:
    return await found is not None


async def _absent(found: Awaitable[Object | None]) -> bool:
    return await found is None


async def test_mirror_pods_and_registration_wait_for_the_api(
    restartable: Restartable, tmp_path: Path
) -> None:
    write(tmp_path, "web.yaml", MANIFEST.format(name="web", command="sleep 1000"))
    async with ApiClient(restartable.client_config()) as api:
        await restartable.server.stop()
        retried = asyncio.Event()

        async def sleep(seconds: float) -> None:
            retried.set()
            await asyncio.sleep(min(seconds, 0.05))

        reporter = NodeStatusReporter(api, KubeletConfiguration(), NODE, sleep=sleep)
        registering = asyncio.create_task(reporter.register())
        await asyncio.wait_for(retried.wait(), GUARD)
        # the static pods are read without the API server
        updates: list[list[Object]] = []
        StaticPodSource(tmp_path, NODE, updates.append).scan()
        assert [pod["metadata"]["name"] for pod in updates[-1]] == ["web-node-s"]

        restartable.server = await start(
            ServerOptions(data_dir=restartable.data_dir, secure_port=restartable.port)
        )
        node = await asyncio.wait_for(registering, GUARD)
        mirrors = MirrorPods(api, NODE, node["metadata"]["uid"])
        await restartable.server.stop()
        assert await mirrors.sync(updates[-1], []) is False  # a failed sync, no exception
        restartable.server = await start(
            ServerOptions(data_dir=restartable.data_dir, secure_port=restartable.port)
        )
        assert await mirrors.sync(updates[-1], []) is True
        assert await mirror(api, "web-node-s") is not None
