"""The watch cache over a real SQLite store: what each watcher is handed, and from where."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pynetes.apiserver.watchcache import EventWatcher, WatchCache
from pynetes.storage.sqlite import SQLiteStore

PREFIX = "/registry/configmaps/"


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, WatchCache]]:
    store = await SQLiteStore.open(tmp_path)
    watch_cache = WatchCache(store, PREFIX)
    await watch_cache.start()
    try:
        yield store, watch_cache
    finally:
        await watch_cache.stop()
        await store.close()


async def write(store: SQLiteStore, name: str) -> int:
    value = orjson.dumps({"metadata": {"name": name}})
    return (await store.create(f"{PREFIX}default/{name}", value)).mod_revision


async def names(watcher: EventWatcher, count: int) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(10):
        while len(seen) < count:
            seen += [
                event.current.obj["metadata"]["name"] for _, event in await watcher.next_batch()
            ]
    return seen


async def test_a_watch_from_a_version_the_cache_has_not_reached_starts_after_it(
    cache: tuple[SQLiteStore, WatchCache],
) -> None:
    """A client may hold a newer version (from another API server) than this cache:
    the events up to it are its already, and must not come again."""
    store, watch_cache = cache
    ahead = EventWatcher(PREFIX, None)
    first = watch_cache.watch(ahead, after=watch_cache.revision + 2)
    assert first == []
    for name in ("a", "b", "c"):
        await write(store, name)
    assert await names(ahead, 1) == ["c"]


async def test_watchers_registered_between_writes_get_each_later_event_once(
    cache: tuple[SQLiteStore, WatchCache],
) -> None:
    store, watch_cache = cache
    early = EventWatcher(PREFIX, None)
    watch_cache.watch(early, after=None)
    await write(store, "a")
    await watch_cache.wait_until(await store.current_revision(), 10)
    late = EventWatcher(PREFIX, None)
    initial = watch_cache.watch(late, after=None)  # "a" may still be on its way to early
    assert [event.current.obj["metadata"]["name"] for _, event in initial] == ["a"]
    await write(store, "b")
    assert await names(early, 2) == ["a", "b"]
    assert await names(late, 1) == ["b"]
