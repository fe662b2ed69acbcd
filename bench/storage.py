"""Storage benchmark: durable writes/s and latency, watch delivery, compaction stalls.

    python bench/storage.py [--backends sqlite,etcd] [--writes 20000]

Prints, in one run on one machine, each figure next to its floor: a raw
``sqlite3`` insert loop with the same durability (WAL, synchronous=FULL), and
etcd through the etcd backend. Values are 1 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.storage import Store
from pynetes.storage.sqlite import SQLiteStore

VALUE = os.urandom(1024)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(name: str, count: int, seconds: float, latencies: list[float]) -> None:
    print(
        f"{name:<44} {count / seconds:>10,.0f} writes/s"
        f"   p50 {percentile(latencies, 0.50) * 1000:7.2f} ms"
        f"   p99 {percentile(latencies, 0.99) * 1000:7.2f} ms"
    )


def raw_sqlite_floor(directory: Path, count: int, per_commit: int) -> None:
    """The floor: a plain loop of inserts, committing every ``per_commit`` rows."""
    connection = sqlite3.connect(directory / f"raw-{per_commit}.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE kv (rev INTEGER PRIMARY KEY, key TEXT, value BLOB)")
    connection.execute("CREATE INDEX kv_key ON kv (key, rev)")
    latencies = []
    started = time.perf_counter()
    for first in range(0, count, per_commit):
        begun = time.perf_counter()
        connection.execute("BEGIN")
        for index in range(first, min(first + per_commit, count)):
            connection.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)", (f"/bench/{index}", VALUE)
            )
        connection.execute("COMMIT")
        latencies.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    connection.close()
    report(f"floor: raw sqlite3, {per_commit} insert(s)/commit", count, elapsed, latencies)


async def concurrent_writes(store: Store, name: str, count: int, writers: int) -> None:
    latencies: list[float] = []
    prefix = f"/bench/{name}/{writers}/"

    async def writer(number: int) -> None:
        for index in range(number, count, writers):
            begun = time.perf_counter()
            await store.create(f"{prefix}{index}", VALUE)
            latencies.append(time.perf_counter() - begun)

    started = time.perf_counter()
    await asyncio.gather(*(writer(number) for number in range(writers)))
    report(
        f"{name}: {writers} concurrent writer(s)", count, time.perf_counter() - started, latencies
    )


async def watch_delivery(store: Store, name: str, watchers: int, count: int, rate: float) -> None:
    """Delay from the moment a write is submitted to its receipt by each watcher."""
    prefix = f"/bench/{name}/watch/"
    start = await store.current_revision()
    delays: list[float] = []
    ready = asyncio.Event()
    started_watchers = 0

    async def watcher() -> None:
        nonlocal started_watchers
        received = 0
        async with contextlib.aclosing(store.watch(prefix, after_revision=start)) as events:
            started_watchers += 1
            if started_watchers == watchers:
                ready.set()
            async for event in events:
                (sent,) = struct.unpack_from("d", event.kv.value)
                delays.append(time.perf_counter() - sent)
                received += 1
                if received == count:
                    return

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await ready.wait()

    async def writer() -> None:
        """Writes at ``rate`` per second, one write every 1/rate seconds."""
        writes = []
        began = time.perf_counter()
        for index in range(count):
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = struct.pack("d", time.perf_counter()) + VALUE[8:]
            writes.append(asyncio.create_task(store.create(f"{prefix}{index}", payload)))
        await asyncio.gather(*writes)

    await writer()
    await asyncio.gather(*tasks)
    print(
        f"{name}: watch delivery, {watchers} watchers, {rate:,.0f} writes/s"
        f"   p50 {percentile(delays, 0.5) * 1000:6.2f} ms"
        f"   p99 {percentile(delays, 0.99) * 1000:6.2f} ms"
    )


async def compaction_stall(store: SQLiteStore, count: int) -> None:
    """Write latency while a compaction of ``count`` revisions runs, against without it."""
    prefix = "/bench/compaction/"
    for first in range(0, count, 1000):
        await asyncio.gather(
            *(store.create(f"{prefix}{i}", VALUE) for i in range(first, first + 1000))
        )
        await asyncio.gather(
            *(store.update(f"{prefix}{i}", VALUE) for i in range(first, first + 1000))
        )

    async def measure(during: Callable[[], Awaitable[None]]) -> list[float]:
        latencies: list[float] = []
        done = asyncio.Event()

        async def writer(number: int) -> None:
            index = number
            while not done.is_set():
                begun = time.perf_counter()
                await store.update(f"{prefix}{index % count}", VALUE)
                latencies.append(time.perf_counter() - begun)
                index += 16

        writers = [asyncio.create_task(writer(number)) for number in range(16)]
        await during()
        done.set()
        await asyncio.gather(*writers)
        return latencies

    baseline = await measure(lambda: asyncio.sleep(1.0))
    target = await store.current_revision()
    started = time.perf_counter()
    during = await measure(lambda: store.compact(target))
    took = time.perf_counter() - started
    print(
        f"sqlite: write latency, 16 writers, no compaction"
        f"   p99 {percentile(baseline, 0.99) * 1000:6.2f} ms   max {max(baseline) * 1000:6.2f} ms"
    )
    print(
        f"sqlite: same, compacting {target:,} revisions ({took:.2f} s)"
        f"   p99 {percentile(during, 0.99) * 1000:6.2f} ms   max {max(during) * 1000:6.2f} ms"
    )


@contextlib.asynccontextmanager
async def etcd_store(directory: Path) -> AsyncIterator[Store]:
    from pynetes.storage.etcd import EtcdStore
    from pynetes.storage.etcd.process import EtcdCluster

    cluster = await EtcdCluster.start(directory / "etcd", members=1)
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None)
    try:
        yield store
    finally:
        await store.close()
        await cluster.stop()


async def bench_backend(name: str, store: Store, writes: int) -> None:
    await concurrent_writes(store, name, max(writes // 10, 500), 1)
    await concurrent_writes(store, name, writes, 64)
    await watch_delivery(store, name, 100, 2000, 1000)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,etcd")
    parser.add_argument("--writes", type=int, default=20000)
    arguments = parser.parse_args()
    backends = arguments.backends.split(",")
    print(
        f"storage benchmark: 1 KiB values, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as temporary:
        directory = Path(temporary)
        raw_sqlite_floor(directory, max(arguments.writes // 10, 500), 1)
        raw_sqlite_floor(directory, arguments.writes, 64)
        if "sqlite" in backends:
            store = await SQLiteStore.open(directory / "sqlite", compaction_window=None)
            try:
                await bench_backend("sqlite", store, arguments.writes)
                await compaction_stall(store, 20000)
            finally:
                await store.close()
        if "etcd" in backends:
            async with etcd_store(directory) as store:
                await bench_backend("etcd", store, arguments.writes)
        print(
            "targets: sqlite >= 10,000 writes/s with 64 writers and >= 2x etcd; watch p99 < 20 ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
