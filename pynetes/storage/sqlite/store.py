"""SQLiteStore: the embedded default backend, one database file under the data directory.

Writes go through the single group-commit writer thread; reads run on a small
pool of reader threads with their own connections (WAL lets them read while
the writer writes); watch events are handed from the writer to watchers in
process. Nothing blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from pynetes.storage import continuation
from pynetes.storage.compaction import DEFAULT_WINDOW_SECONDS, Compactor
from pynetes.storage.errors import StorageError
from pynetes.storage.fanout import DEFAULT_MAX_PENDING, Watcher, WatcherSet
from pynetes.storage.interface import (
    KeyValue,
    ListPage,
    Store,
    WatchEvent,
    check_write,
    prefix_end,
)
from pynetes.storage.sqlite import reads, schema
from pynetes.storage.sqlite.writer import CompactJob, OpKind, WriteOp, Writer

DATABASE_NAME = "state.db"
READER_THREADS = 4
#: How often entries whose TTL ran out are deleted.
DEFAULT_REAP_INTERVAL = 1.0
#: How often the WAL is checkpointed into the database file.
CHECKPOINT_INTERVAL = 0.5

P = ParamSpec("P")
T = TypeVar("T")


class SQLiteStore(Store):
    """A Store on one SQLite file. Create it with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        writer_connection: sqlite3.Connection,
        *,
        clock: Callable[[], float],
        max_pending_events: int,
    ) -> None:
        self.path = path
        self._clock = clock
        self._max_pending = max_pending_events
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        self._reader_connections: list[sqlite3.Connection] = []
        self._watchers = WatcherSet()
        self._writer = Writer(writer_connection, asyncio.get_running_loop(), self._on_commit)
        self._published = self._writer.revision
        self._checkpoint_connection = schema.connect(path, readonly=False)
        self._background: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        compaction_window: float | None = DEFAULT_WINDOW_SECONDS,
        reap_interval: float | None = DEFAULT_REAP_INTERVAL,
        clock: Callable[[], float] = time.time,
        max_pending_events: int = DEFAULT_MAX_PENDING,
    ) -> SQLiteStore:
        """Open or create ``data_dir/state.db``.

        ``compaction_window`` None and ``reap_interval`` None turn the
        background compactor and TTL reaper off (tests drive them by hand
        with :meth:`compact` and :meth:`reap_expired`). ``clock`` gives the
        wall-clock time that TTLs are measured in. Raises DatabaseFileError
        for a damaged or foreign file.
        """
        path = Path(data_dir) / DATABASE_NAME
        connection = await asyncio.to_thread(schema.open_database, path)
        store = cls(path, connection, clock=clock, max_pending_events=max_pending_events)
        if compaction_window is not None:
            compactor = Compactor(store, window=compaction_window)
            store._background.append(asyncio.create_task(compactor.run()))
        if reap_interval is not None:
            store._background.append(asyncio.create_task(store._reap_forever(reap_interval)))
        store._background.append(asyncio.create_task(store._checkpoint_forever()))
        return store

    # -- writes ---------------------------------------------------------------

    async def create(self, key: str, value: bytes, *, ttl: float | None = None) -> KeyValue:
        return await self._write(OpKind.CREATE, key, value, None, ttl)

    async def update(
        self,
        key: str,
        value: bytes,
        *,
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> KeyValue:
        return await self._write(OpKind.UPDATE, key, value, expected_revision, ttl)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        return await self._write(OpKind.DELETE, key, b"", expected_revision, None)

    async def _write(
        self,
        kind: OpKind,
        key: str,
        value: bytes,
        expected_revision: int | None,
        ttl: float | None,
    ) -> KeyValue:
        check_write(key, value)
        self._check_open()
        future: asyncio.Future[KeyValue] = asyncio.get_running_loop().create_future()
        expires = None if ttl is None else self._clock() + ttl
        self._writer.submit(WriteOp(kind, key, value, expected_revision, expires, future))
        return await future

    def _on_commit(self, ops: list[WriteOp], events: list[WatchEvent], revision: int) -> None:
        """On the loop, after each commit: publish the events, then answer the callers.

        Publishing first means a caller that watches from the revision its
        write returned never waits for an event that is already history.
        """
        self._published = revision
        if events:
            self._watchers.publish(events)
        for op in ops:
            if op.future.done():
                continue
            if isinstance(op.result, StorageError):
                op.future.set_exception(op.result)
            else:
                op.future.set_result(op.result)  # type: ignore[arg-type]

    # -- reads ----------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        return await self._read(reads.get, key)

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int | None = None,
    ) -> ListPage:
        end = prefix_end(prefix)
        start = prefix
        if continue_token is not None:
            revision, start = continuation.decode(continue_token, prefix=prefix)
        found = await self._read(reads.read_range, start, end, revision=revision, limit=limit)
        token = None
        if found.more:
            token = continuation.encode(
                revision=found.revision, next_key=found.items[-1].key + "\0", prefix=prefix
            )
        return ListPage(found.items, found.revision, token, found.remaining if found.more else None)

    async def current_revision(self) -> int:
        """The newest revision whose writes are committed and visible to watchers.

        Not the writer's counter, which runs ahead inside an open transaction:
        a reader waiting for this revision must never wait for one that a
        failed commit rolls back.
        """
        return self._published

    async def compacted_revision(self) -> int:
        return self._writer.compacted

    async def _read(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._readers, lambda: function(self._reader_connection(), *args, **kwargs)
        )

    def _reader_connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = schema.connect(self.path, readonly=True)
            self._local.connection = connection
            self._reader_connections.append(connection)
        return connection

    # -- watch ----------------------------------------------------------------

    async def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        self._check_open()
        end = prefix_end(prefix)
        watcher = self._watchers.add(prefix, max_pending=self._max_pending)
        last = after_revision
        try:
            while not watcher.closed:
                # Registered (or restarted) and read the published revision with
                # no await between: events after it arrive through the buffer,
                # events up to it are in the database.
                watcher.restart()
                caught_up_to = self._published
                async for event in self._replay(prefix, end, last, caught_up_to):
                    yield event
                    last = event.revision
                last = max(last, caught_up_to)
                async for event in _drain(watcher):
                    if event.revision > last:
                        yield event
                        last = event.revision
        finally:
            self._watchers.remove(watcher)

    async def _replay(
        self, prefix: str, end: str, after: int, until: int
    ) -> AsyncIterator[WatchEvent]:
        while after < until:
            page = await self._read(reads.replay, prefix, end, after=after, until=until)
            for event in page:
                yield event
            if len(page) < reads.REPLAY_PAGE:
                return
            after = page[-1].revision

    # -- history and TTL ------------------------------------------------------

    async def compact(self, revision: int) -> None:
        self._check_open()
        if revision <= self._writer.compacted:
            return
        revision = min(revision, self._published)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer.submit(CompactJob(revision, self._writer.compacted, future))
        await future

    async def reap_expired(self) -> int:
        """Delete every entry whose TTL has run out; returns how many went.

        Each deletion is guarded by the revision that was read, so an entry
        rewritten meanwhile (with a new TTL or none) is left alone.
        """
        count = 0
        for kv in await self._read(reads.expired, self._clock()):
            with contextlib.suppress(StorageError):
                await self.delete(kv.key, expected_revision=kv.mod_revision)
                count += 1
        return count

    async def _reap_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(StorageError):
                await self.reap_expired()

    async def checkpoint(self) -> None:
        """Checkpoint the WAL now (it also happens every CHECKPOINT_INTERVAL)."""
        await asyncio.to_thread(schema.checkpoint, self._checkpoint_connection)

    async def _checkpoint_forever(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL)
            await self.checkpoint()

    # -- life cycle -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the store at {self.path} is closed")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._watchers.close_all()
        await asyncio.to_thread(self._writer.stop)
        self._readers.shutdown(wait=True)
        for connection in [*self._reader_connections, self._checkpoint_connection]:
            connection.close()


async def _drain(watcher: Watcher) -> AsyncIterator[WatchEvent]:
    """The buffered events of ``watcher`` until it overflows or closes."""
    while (event := await watcher.next()) is not None:
        yield event
