"""Informers against the real API server: sync, changes, churn across restarts, relists."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from pynetes.api.resources import ResourceRegistry
from pynetes.apiserver import watchcache
from pynetes.client.cache import informer as informer_module
from pynetes.client.cache.indexer import CacheMutationError
from pynetes.client.cache.informer import (
    EventHandler,
    Informer,
    SharedInformerFactory,
    enqueue_keys,
)
from pynetes.client.rest import ApiClient
from pynetes.client.workqueue import Queue
from tests.integration.conftest import Restartable

REGISTRY = ResourceRegistry()
CONFIGMAPS = REGISTRY.lookup("", "v1", "configmaps")
PODS = REGISTRY.lookup("", "v1", "pods")
#: A guard against a hang, not a timing assertion.
GUARD = 60


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Recorder:
    """Every notification, as (type, name, resourceVersion)."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)

    def handler(self) -> EventHandler:
        def note(kind: str) -> Callable[[dict], None]:
            def record(obj: dict) -> None:
                metadata = obj["metadata"]
                self.seen.append((kind, metadata["name"], metadata["resourceVersion"]))

            return record

        return EventHandler(
            on_add=note("add"),
            on_update=lambda _old, new: note("update")(new),
            on_delete=note("delete"),
        )


@pytest.fixture
async def client(restartable: Restartable) -> AsyncIterator[ApiClient]:
    async with ApiClient(restartable.client_config(), sleep=no_sleep) as api:
        yield api


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition``: the informer's changes land on its own task."""
    async with asyncio.timeout(GUARD):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the informer's progress
            await asyncio.sleep(0.01)


async def api_state(client: ApiClient) -> dict[str, str]:
    listed = await client.list(CONFIGMAPS, namespace="default")
    return {
        item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in listed["items"]
    }


def store_state(informer: Informer) -> dict[str, str]:
    return {
        obj["metadata"]["name"]: obj["metadata"]["resourceVersion"] for obj in informer.store.list()
    }


async def test_an_informer_syncs_then_tells_each_change_in_order(client: ApiClient) -> None:
    for name in ("a", "b"):
        await client.create(CONFIGMAPS, {"metadata": {"name": name}}, namespace="default")
    recorder = Recorder()
    informer = Informer(client, CONFIGMAPS, namespace="default", sleep=no_sleep)
    informer.add_event_handler(recorder.handler())
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_for_sync(), GUARD)
        assert sorted(store_state(informer)) == ["a", "b"]
        await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, namespace="default")
        await client.delete(CONFIGMAPS, "b", namespace="default")
        await client.create(CONFIGMAPS, {"metadata": {"name": "c"}}, namespace="default")
        await until(lambda: len(recorder.seen) == 5)
        assert [(kind, name) for kind, name, _ in recorder.seen] == [
            ("add", "a"),
            ("add", "b"),
            ("update", "a"),
            ("delete", "b"),
            ("add", "c"),
        ]
        assert store_state(informer) == await api_state(client)
        assert informer.lister.get("a", "default")["data"] == {"k": "v"}  # type: ignore[index]
    finally:
        await informer.stop()


async def test_churn_across_server_restarts_loses_and_repeats_nothing(
    client: ApiClient, restartable: Restartable
) -> None:
    recorder = Recorder()
    informer = Informer(client, CONFIGMAPS, namespace="default", sleep=no_sleep)
    informer.add_event_handler(recorder.handler())
    informer.start()
    chooser = random.Random(7)
    names = [f"c{index}" for index in range(12)]
    try:
        await asyncio.wait_for(informer.wait_for_sync(), GUARD)
        for _round in range(3):
            for _ in range(40):
                await churn_once(client, chooser, names)
            await restartable.restart()  # the informer's watch is cut mid-stream
        await until_equal(client, informer)
    finally:
        await informer.stop()
    # Per object, versions never go back, and a version comes again only from a
    # relist: as the update it restates (client-go's Replaced deltas), or as the
    # delete of an object gone while unwatched (told with the last state known).
    last: dict[str, int] = {}
    for kind, name, version in recorder.seen:
        previous = last.get(name, 0)
        repeated = int(version) == previous and kind in ("update", "delete")
        assert int(version) > previous or repeated, (kind, name, version)
        last[name] = int(version)


async def churn_once(client: ApiClient, chooser: random.Random, names: list[str]) -> None:
    name = chooser.choice(names)
    try:
        existing = await client.get(CONFIGMAPS, name, namespace="default")
    except Exception:
        existing = None
    if existing is None:
        await client.create(CONFIGMAPS, {"metadata": {"name": name}}, namespace="default")
    elif chooser.random() < 0.3:
        await client.delete(CONFIGMAPS, name, namespace="default")
    else:
        patch = {"data": {"n": str(chooser.random())}}
        await client.patch(CONFIGMAPS, name, patch, namespace="default")


async def until_equal(client: ApiClient, informer: Informer) -> None:
    async with asyncio.timeout(GUARD):
        while store_state(informer) != await api_state(client):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_an_expired_watch_makes_the_informer_list_again(
    client: ApiClient, restartable: Restartable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchcache, "HISTORY_CAPACITY", 2)
    reconnect = asyncio.Event()
    reconnect.set()

    async def wait_to_reconnect(_seconds: float) -> None:
        await reconnect.wait()

    informer = Informer(client, CONFIGMAPS, namespace="default", sleep=wait_to_reconnect)
    informer.start()
    try:
        await asyncio.wait_for(informer.wait_for_sync(), GUARD)
        await client.create(CONFIGMAPS, {"metadata": {"name": "seen"}}, namespace="default")
        await until(lambda: "seen" in store_state(informer))
        reconnect.clear()
        await restartable.restart()  # the watch breaks and stays away while...
        for index in range(6):  # ...these push its version out of the server's short history
            cm = {"metadata": {"name": f"m{index}"}}
            await client.create(CONFIGMAPS, cm, namespace="default")
        await client.delete(CONFIGMAPS, "seen", namespace="default")
        reconnect.set()
        await until_equal(client, informer)
        assert informer.lists == 2
    finally:
        await informer.stop()


async def test_a_factory_shares_informers_and_their_indexes(client: ApiClient) -> None:
    for name, node in (("p1", "n1"), ("p2", "n1"), ("p3", "n2")):
        pod = {
            "metadata": {"name": name, "labels": {"app": "web" if node == "n1" else "db"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        }
        await client.create(PODS, pod, namespace="default")

    def by_node(obj: dict) -> list[str]:
        return [obj["spec"]["nodeName"]] if obj.get("spec", {}).get("nodeName") else []

    factory = SharedInformerFactory(client)
    informer = factory.informer(PODS, indexers={"node": by_node})
    assert factory.informer(PODS, indexers={"node": by_node}) is informer
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_for_cache_sync(), GUARD)
        assert informer.store.index_keys("node", "n1") == ["default/p1", "default/p2"]
        web = informer.lister.list("default", "app=web")
        assert sorted(pod["metadata"]["name"] for pod in web) == ["p1", "p2"]
        assert all(pod["kind"] == "Pod" for pod in informer.store.list())
    finally:
        await factory.shutdown()


async def test_resync_restates_every_object_and_handlers_enqueue_keys(client: ApiClient) -> None:
    await client.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
    queue = Queue[str]()
    recorder = Recorder()
    informer = Informer(client, CONFIGMAPS, namespace="default", resync_period=0.01)
    informer.add_event_handler(enqueue_keys(queue))
    informer.add_event_handler(recorder.handler())
    informer.start()
    try:
        await until(lambda: [kind for kind, _, _ in recorder.seen].count("update") >= 2)
        async with asyncio.timeout(GUARD):
            assert await queue.get() == "default/a"
        assert len(queue) == 0  # the restatements of one key waited as one
    finally:
        await informer.stop()


async def test_a_handler_that_changes_cached_objects_is_caught(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KUBE_CACHE_MUTATION_DETECTOR", "true")
    monkeypatch.setattr(informer_module, "MUTATION_CHECK_PERIOD", 0.01)
    await client.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")

    def meddle(obj: dict) -> None:
        obj.setdefault("metadata", {})["labels"] = {"changed": "in-place"}

    informer = Informer(client, CONFIGMAPS, namespace="default")
    informer.add_event_handler(EventHandler(on_add=meddle))
    informer.start()
    try:
        await until(lambda: any("changed cached objects" in r.message for r in caplog.records))
        with pytest.raises(CacheMutationError, match="default/a"):
            informer.store.check_mutations()
    finally:
        await informer.stop()
