"""What only the embedded SQLite backend promises: its file, its durability, its bounds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynetes.storage import DatabaseFileError, EventType, StorageError
from pynetes.storage.sqlite import SQLiteStore
from pynetes.storage.sqlite.schema import WAL_SIZE_LIMIT
from pynetes.storage.sqlite.store import DATABASE_NAME
from tests.conftest import require


async def open_store(directory: Path, **options: object) -> SQLiteStore:
    return await SQLiteStore.open(
        directory,
        compaction_window=None,
        reap_interval=None,
        **options,  # type: ignore[arg-type]
    )


async def test_state_and_revision_survive_a_restart(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    await store.create("/k/a", b"1")
    await store.update("/k/a", b"2")
    revision = await store.current_revision()
    await store.close()

    reopened = await open_store(tmp_path)
    try:
        assert await reopened.current_revision() == revision
        got = await reopened.get("/k/a")
        assert got is not None and got.value == b"2"
        created = await reopened.create("/k/b", b"3")
        assert created.mod_revision == revision + 1
    finally:
        await reopened.close()


async def test_a_store_of_schema_version_1_is_brought_up_to_date(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    for name in "abcdef":
        await store.create(f"/k/{name}", name.encode())
    await store.update("/k/e", b"E")
    await store.delete("/k/d")
    revision = await store.current_revision()
    await store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / DATABASE_NAME)) as older:
        older.executescript(  # schema version 1, as pynetes wrote it
            "CREATE INDEX kv_key_rev ON kv (key, rev); DROP INDEX kv_key_rev_deleted;"
            " PRAGMA user_version = 1;"
        )

    reopened = await open_store(tmp_path)
    try:
        assert await reopened.current_revision() == revision
        page = await reopened.list("/k/", limit=2)
        assert [kv.value for kv in page.items] == [b"a", b"b"]
        assert page.remaining == 3  # c, e and f: d is deleted
    finally:
        await reopened.close()
    with contextlib.closing(sqlite3.connect(tmp_path / DATABASE_NAME)) as upgraded:
        assert upgraded.execute("PRAGMA user_version").fetchone()[0] == 2
        indexes = {row[1] for row in upgraded.execute("PRAGMA index_list(kv)")}
        assert "kv_key_rev_deleted" in indexes and "kv_key_rev" not in indexes


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    garbage = b"this is not SQLite" * 1000
    path.write_bytes(garbage)
    with pytest.raises(DatabaseFileError) as refused:
        await open_store(tmp_path)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == garbage


async def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    with contextlib.closing(sqlite3.connect(path)) as foreign:
        foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        foreign.execute("INSERT INTO invoices VALUES (1, 9.5)")
        foreign.commit()
    before = path.read_bytes()
    with pytest.raises(DatabaseFileError) as refused:
        await open_store(tmp_path)
    assert "another application" in str(refused.value)
    assert path.read_bytes() == before


async def test_a_damaged_database_is_refused(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    for index in range(2000):
        await store.create(f"/k/{index:05}", os.urandom(200))
    await store.close()
    path = tmp_path / DATABASE_NAME
    with path.open("r+b") as damaged:
        damaged.seek(8192)
        damaged.write(b"\xff" * 16384)
    with pytest.raises(DatabaseFileError) as refused:
        await open_store(tmp_path)
    assert str(path) in str(refused.value)


async def test_a_watcher_that_falls_behind_catches_up_without_loss(tmp_path: Path) -> None:
    store = await open_store(tmp_path, max_pending_events=5)
    try:
        start = await store.current_revision()
        async with contextlib.aclosing(store.watch("/s/", after_revision=start)) as watch:
            first = await anext_with_timeout(watch, after=store.create("/s/0", b"0"))
            for index in range(1, 200):  # far more than the buffer holds
                await store.create(f"/s/{index}", b"x")
            received = [first]
            async with asyncio.timeout(20):
                async for event in watch:
                    received.append(event)
                    if len(received) == 200:
                        break
        assert [event.revision for event in received] == list(range(start + 1, start + 201))
        assert {event.type for event in received} == {EventType.CREATED}
    finally:
        await store.close()


async def anext_with_timeout(watch: object, *, after: object) -> object:
    """The next event of ``watch`` once the write ``after`` is done."""
    waiting = asyncio.ensure_future(watch.__anext__())  # type: ignore[attr-defined]
    await after  # type: ignore[misc]
    async with asyncio.timeout(20):
        return await waiting


async def test_writes_go_on_while_a_large_compaction_runs(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        for round_number in range(5):
            await asyncio.gather(
                *(store.create(f"/c/{round_number}/{i}", b"x") for i in range(2000))
            )
        target = await store.current_revision()
        compaction = asyncio.create_task(store.compact(target))
        written = await asyncio.gather(*(store.update(f"/c/0/{i}", b"y") for i in range(500)))
        await compaction
        assert await store.compacted_revision() == target
        assert all(kv.mod_revision > target for kv in written)
        listed = {kv.key: kv.value for kv in (await store.list("/c/0/")).items}
        assert len(listed) == 2000
        assert {listed[kv.key] for kv in written} == {b"y"}
    finally:
        await store.close()


async def test_database_and_wal_stay_bounded_under_steady_churn(tmp_path: Path) -> None:
    """kine's failure mode: history and WAL that grow forever. Here compaction bounds both."""
    store = await open_store(tmp_path)
    path = tmp_path / DATABASE_NAME
    wal = path.with_name(path.name + "-wal")
    sizes = []
    try:
        for index in range(100):
            await store.create(f"/churn/{index}", b"v" * 1024)
        for _round in range(12):
            for _ in range(20):
                await asyncio.gather(
                    *(store.update(f"/churn/{index}", os.urandom(1024)) for index in range(100))
                )
            await store.compact(await store.current_revision())
            await store.checkpoint()
            sizes.append(path.stat().st_size + wal.stat().st_size)
            assert wal.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        await store.close()
    # 24,000 writes of 1 KiB (over 24 MiB of values) went in; what stays on disk is
    # 100 live entries plus about one round of history waiting in the WAL, and it
    # does not grow from one round to the next.
    assert sizes[-1] <= sizes[1] * 1.2
    assert sizes[-1] < 16 * 1024 * 1024


WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from pynetes.storage.sqlite import SQLiteStore

    async def main():
        store = await SQLiteStore.open(Path(sys.argv[1]), compaction_window=None)
        async def writer(number):
            for step in range(1_000_000):
                key = f"/durable/{number}/{step}"
                await store.create(key, key.encode() * 8)
                print(key, flush=True)
        await asyncio.gather(*(writer(n) for n in range(16)))

    asyncio.run(main())
    """
)


@pytest.mark.slow
async def test_no_acknowledged_write_is_lost_to_kill_9(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER_SCRIPT,
        str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    acknowledged = []
    async with asyncio.timeout(120):
        while len(acknowledged) < 5000:
            line = await process.stdout.readline()
            assert line, (await process.stderr.read()).decode()  # type: ignore[union-attr]
            acknowledged.append(line.decode().strip())
    process.send_signal(signal.SIGKILL)
    await process.wait()

    store = await open_store(tmp_path)
    try:
        listed = await store.list("/durable/")
        stored = {kv.key: kv.value for kv in listed.items}
        missing = [key for key in acknowledged if stored.get(key) != key.encode() * 8]
        assert missing == []
        revisions = [kv.mod_revision for kv in listed.items]
        assert len(set(revisions)) == len(revisions)
    finally:
        await store.close()


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, to run the store out of disk space (needs root, as CI has)."""
    require(os.geteuid() == 0, "root (to mount a tmpfs)")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


async def test_a_full_disk_fails_writes_cleanly_and_loses_nothing(tiny_filesystem: Path) -> None:
    store = await open_store(tiny_filesystem)
    acknowledged: dict[str, bytes] = {}
    try:
        with pytest.raises(StorageError):
            for index in range(10_000):
                value = os.urandom(1024)
                await store.create(f"/full/{index:05}", value)
                acknowledged[f"/full/{index:05}"] = value
        assert len(acknowledged) > 100
        listed = await store.list("/full/")
        assert {kv.key: kv.value for kv in listed.items} == acknowledged
        with pytest.raises(StorageError):
            await store.create("/full/more", os.urandom(1024))
    finally:
        await store.close()
