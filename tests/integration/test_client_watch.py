"""pynetes.client watches against the real API server: streams, resumes, and Gone."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from pynetes.api.resources import ResourceRegistry
from pynetes.apiserver import watchcache
from pynetes.client import errors
from pynetes.client.config import ClientConfig, load_kubeconfig
from pynetes.client.rest import ApiClient
from pynetes.client.watch import ResumingWatcher, WatchEvent, watch
from tests.integration.conftest import Cluster, Restartable

CONFIGMAPS = ResourceRegistry().lookup("", "v1", "configmaps")
#: A guard against a hang, not a timing assertion: every await below normally takes ms.
GUARD = 30


def configmap(name: str, **data: str) -> dict:
    return {"metadata": {"name": name}, "data": data}


def seen(event: WatchEvent) -> tuple[str, str]:
    return event.type, event.object["metadata"]["name"]


def admin_config(cluster: Cluster) -> ClientConfig:
    return dataclasses.replace(load_kubeconfig(cluster.kubeconfig), qps=0)


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ApiClient]:
    async with ApiClient(admin_config(cluster)) as api:
        yield api


async def take(events: AsyncIterator[WatchEvent], count: int) -> list[tuple[str, str]]:
    async with asyncio.timeout(GUARD):
        return [seen(await anext(events)) for _ in range(count)]


async def no_sleep(_seconds: float) -> None:
    """The resuming watcher's backoff, skipped: each test makes the way back open first."""


class Sleeps:
    """A sleep that returns at once and remembers what it was asked for."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


# -- one watch -----------------------------------------------------------------------


async def test_a_watch_from_a_resource_version_sends_what_came_after(client: ApiClient) -> None:
    await client.create(CONFIGMAPS, configmap("a"))
    since = (await client.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, configmap("b"))
    await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}})
    await client.delete(CONFIGMAPS, "b")
    stream = watch(client, CONFIGMAPS, namespace="default", resource_version=since)
    async with contextlib.aclosing(stream) as events:
        assert await take(events, 3) == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


async def test_a_watch_without_a_version_starts_with_what_exists_and_ends_on_time(
    client: ApiClient,
) -> None:
    await client.create(CONFIGMAPS, configmap("x", k="1"))
    await client.create(CONFIGMAPS, configmap("other"), namespace="kube-system")
    async with asyncio.timeout(GUARD):
        events = [
            event
            async for event in watch(
                client,
                CONFIGMAPS,
                namespace="default",
                field_selector="metadata.name=x",
                timeout_seconds=1,
            )
        ]
    assert [event.type for event in events] == ["ADDED", "BOOKMARK"]
    assert events[0].object["data"] == {"k": "1"}
    assert events[1].object["kind"] == "ConfigMap" and events[1].resource_version


async def test_objects_of_megabytes_arrive_whole(client: ApiClient) -> None:
    since = (await client.list(CONFIGMAPS))["metadata"]["resourceVersion"]
    big = "x" * (900 * 1024)  # under the 1 MiB a ConfigMap may hold
    await client.create(CONFIGMAPS, configmap("big", blob=big, tail="end"))
    async with contextlib.aclosing(watch(client, CONFIGMAPS, resource_version=since)) as events:
        async with asyncio.timeout(GUARD):
            event = await anext(events)
    assert event.object["data"] == {"blob": big, "tail": "end"}


async def test_an_expired_version_raises_gone(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchcache, "HISTORY_CAPACITY", 2)
    first = await client.create(CONFIGMAPS, configmap("c0"))
    for name in ("c1", "c2", "c3"):
        await client.create(CONFIGMAPS, configmap(name))
    await client.list(CONFIGMAPS)  # the cache has seen c3: c0 has left its history
    forgotten = first["metadata"]["resourceVersion"]
    with pytest.raises(errors.Gone) as gone:
        async for _ in watch(client, CONFIGMAPS, resource_version=forgotten):
            pass
    assert gone.value.code == 410 and gone.value.reason == "Expired"
    watcher = ResumingWatcher(client, CONFIGMAPS, resource_version=forgotten, sleep=no_sleep)
    async with watcher:
        with pytest.raises(errors.Gone):
            await anext(watcher)


# -- resuming --------------------------------------------------------------------------


async def test_a_resuming_watch_goes_on_after_the_server_ends_its_stream(
    client: ApiClient,
) -> None:
    since = (await client.list(CONFIGMAPS))["metadata"]["resourceVersion"]
    bookmarks: list[str] = []
    bookmarked = asyncio.Event()

    def on_bookmark(event: WatchEvent) -> None:
        bookmarks.append(event.resource_version)
        bookmarked.set()

    watcher = ResumingWatcher(
        client, CONFIGMAPS, resource_version=since, timeout_seconds=1, on_bookmark=on_bookmark
    )
    async with watcher:
        await client.create(CONFIGMAPS, configmap("before"))
        assert await take(watcher, 1) == [("ADDED", "before")]
        following = asyncio.ensure_future(anext(watcher))
        async with asyncio.timeout(GUARD):
            await bookmarked.wait()  # the first stream ended (timeoutSeconds) with a bookmark
        assert watcher.resource_version == bookmarks[0]
        await client.create(CONFIGMAPS, configmap("after"))
        async with asyncio.timeout(GUARD):
            assert seen(await following) == ("ADDED", "after")
        await client.create(CONFIGMAPS, configmap("last"))
        assert await take(watcher, 1) == [("ADDED", "last")]  # nothing twice in between


class CuttableProxy:
    """A TCP relay to the API server whose open connections can be cut at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        """Abort every relayed connection, both ways, as a network failure would."""
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_resuming_watch_survives_a_cut_connection(
    cluster: Cluster, client: ApiClient
) -> None:
    port = int(cluster.server.url.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    proxy_port = await proxy.start()
    relayed = dataclasses.replace(admin_config(cluster), server=f"https://127.0.0.1:{proxy_port}")
    since = (await client.list(CONFIGMAPS))["metadata"]["resourceVersion"]
    backoffs = Sleeps()
    try:
        async with (
            ApiClient(relayed, sleep=no_sleep) as watching,
            ResumingWatcher(
                watching, CONFIGMAPS, resource_version=since, sleep=backoffs
            ) as watcher,
        ):
            for name in ("a", "b"):
                await client.create(CONFIGMAPS, configmap(name))
            assert await take(watcher, 2) == [("ADDED", "a"), ("ADDED", "b")]
            proxy.cut()
            # while the watcher is away: these must come once each, in order
            await client.create(CONFIGMAPS, configmap("c"))
            await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}})
            await client.delete(CONFIGMAPS, "b")
            assert await take(watcher, 3) == [
                ("ADDED", "c"),
                ("MODIFIED", "a"),
                ("DELETED", "b"),
            ]
            await client.create(CONFIGMAPS, configmap("d"))
            assert await take(watcher, 1) == [("ADDED", "d")]
        assert len(backoffs.slept) == 1  # one broken stream, resumed after one backoff
    finally:
        await proxy.stop()


async def test_a_resuming_watch_survives_a_server_restart(restartable: Restartable) -> None:
    async with ApiClient(restartable.client_config(), sleep=no_sleep) as client:
        since = (await client.list(CONFIGMAPS))["metadata"]["resourceVersion"]
        async with ResumingWatcher(
            client, CONFIGMAPS, resource_version=since, sleep=no_sleep
        ) as watcher:
            await client.create(CONFIGMAPS, configmap("a"))
            await client.create(CONFIGMAPS, configmap("b"))
            assert await take(watcher, 2) == [("ADDED", "a"), ("ADDED", "b")]
            await restartable.restart()
            await client.create(CONFIGMAPS, configmap("c"))
            await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}})
            try:
                assert await take(watcher, 2) == [("ADDED", "c"), ("MODIFIED", "a")]
            except errors.Gone as gone:
                # The restarted server's watch window starts at its start-up writes (its
                # master lease), as upstream's watch cache does after a restart: an older
                # resourceVersion is 410 Gone, and the caller relists (as informers do).
                assert "too old resource version" in str(gone)
                listed = await client.list(CONFIGMAPS)
                names = {item["metadata"]["name"] for item in listed["items"]}
                assert {"a", "b", "c"} <= names
