"""The ``store`` fixture: every contract test runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pynetes.storage import Store
from pynetes.storage.sqlite import SQLiteStore
from tests.conftest import FakeClock, require_tool

BACKENDS = ["sqlite", "etcd"]


@dataclass
class Harness:
    """A store plus the means to let time pass for its TTLs."""

    store: Store
    let_ttl_pass: Callable[[float], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


async def open_harness(backend: str, directory: Path) -> Harness:
    if backend == "sqlite":
        return await _sqlite_harness(directory)
    return await _etcd_harness(directory)


async def _sqlite_harness(directory: Path) -> Harness:
    clock = FakeClock()
    store = await SQLiteStore.open(
        directory, compaction_window=None, reap_interval=None, clock=clock
    )

    async def let_ttl_pass(seconds: float) -> None:
        clock.advance(seconds)
        await store.reap_expired()

    return Harness(store, let_ttl_pass, store.close)


async def _etcd_harness(directory: Path) -> Harness:
    require_tool("etcd")
    from pynetes.storage.etcd import EtcdStore
    from pynetes.storage.etcd.process import EtcdCluster

    cluster = await EtcdCluster.start(directory / "etcd", members=1)
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None)

    async def let_ttl_pass(seconds: float) -> None:
        """etcd keeps its own time: its lessor expires leases by itself."""

    async def close() -> None:
        await store.close()
        await cluster.stop()

    return Harness(store, let_ttl_pass, close)


@pytest.fixture(params=BACKENDS)
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    opened = await open_harness(request.param, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def store(harness: Harness) -> Store:
    return harness.store
