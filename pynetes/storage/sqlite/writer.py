"""The single writer thread: group commit of every write into one transaction.

SQLite allows one writer at a time. Rather than have many connections fight
for the lock ("database is locked"), one thread owns the only writing
connection. Callers on the event loop enqueue operations; the thread takes
every operation waiting, applies them in order inside one transaction, and
commits once, so concurrent writers share a single fsync. After the commit it
hands the results and the watch events back to the event loop.

Compaction runs on the same thread in short chunks between write batches,
so it never holds the write lock for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pynetes.storage.errors import (
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    StorageError,
)
from pynetes.storage.interface import EventType, KeyValue, WatchEvent

log = logging.getLogger(__name__)

#: Most operations in one transaction: bounds commit latency and memory.
MAX_BATCH = 2000
#: Revisions whose superseded rows one compaction chunk removes.
COMPACTION_CHUNK = 250


class OpKind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(slots=True)
class WriteOp:
    """One write, with the future its caller awaits (resolved on the loop)."""

    kind: OpKind
    key: str
    value: bytes
    expected_revision: int | None
    expires: float | None
    future: asyncio.Future[KeyValue]
    result: KeyValue | StorageError | None = None


@dataclass(slots=True)
class CompactJob:
    """Compaction to ``target``, done chunk by chunk from ``next_revision``."""

    target: int
    next_revision: int
    future: asyncio.Future[None]
    error: StorageError | None = field(default=None)


CommitCallback = Callable[[list[WriteOp], list[WatchEvent], int], None]


class _Stop:
    """Sentinel that ends the writer thread."""


class Writer:
    """Owns the writing connection and the revision counter.

    ``on_commit(ops, events, revision)`` is called on ``loop`` after every
    transaction, in commit order, with each op's ``result`` filled in.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        on_commit: CommitCallback,
    ) -> None:
        self._connection = connection
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[WriteOp | CompactJob | _Stop] = queue.SimpleQueue()
        self.revision = self._read_meta("revision")
        self.compacted = self._read_meta("compacted")
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, item: WriteOp | CompactJob) -> None:
        self._queue.put(item)

    def stop(self) -> None:
        """Finish queued work, then end the thread and close the connection (blocking)."""
        self._queue.put(_Stop())
        self._thread.join()

    def _read_meta(self, name: str) -> int:
        row = self._connection.execute("SELECT value FROM meta WHERE name = ?", (name,))
        return int(row.fetchone()[0])

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                break
            if isinstance(item, CompactJob):
                self._compact_chunk(item)
                continue
            batch = [item]
            held: list[CompactJob | _Stop] = []
            while len(batch) < MAX_BATCH and not self._queue.empty():
                more = self._queue.get_nowait()
                if isinstance(more, WriteOp):
                    batch.append(more)
                else:
                    held.append(more)
            self._commit(batch)
            for other in held:
                self._queue.put(other)
        self._connection.close()

    def _commit(self, batch: list[WriteOp]) -> None:
        start_revision = self.revision
        events: list[WatchEvent] = []
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            for op in batch:
                op.result = self._apply(op, events)
            self._connection.execute(
                "UPDATE meta SET value = ? WHERE name = 'revision'", (self.revision,)
            )
            self._connection.execute("COMMIT")
        except Exception as error:  # the thread must outlive any failure, or every write hangs
            log.error("storage transaction failed, %d writes refused: %s", len(batch), error)
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            self.revision = start_revision
            events = []
            for op in batch:
                op.result = StorageError(f"write failed: {error}")
        self._loop.call_soon_threadsafe(self._on_commit, batch, events, self.revision)

    def _apply(self, op: WriteOp, events: list[WatchEvent]) -> KeyValue | StorageError:
        current = self._current(op.key)
        if op.kind is OpKind.CREATE:
            if current is not None:
                return KeyExistsError(op.key)
            kv = self._insert(op, created=None, prev=None)
            events.append(WatchEvent(EventType.CREATED, kv, None))
            return kv
        if current is None:
            return KeyNotFoundError(op.key)
        if op.expected_revision is not None and op.expected_revision != current.mod_revision:
            return ConflictError(op.key, expected=op.expected_revision, actual=current.mod_revision)
        kv = self._insert(op, created=current.create_revision, prev=current)
        if op.kind is OpKind.UPDATE:
            events.append(WatchEvent(EventType.UPDATED, kv, current))
            return kv
        events.append(WatchEvent(EventType.DELETED, kv, current))
        return KeyValue(op.key, current.value, current.create_revision, kv.mod_revision)

    def _current(self, key: str) -> KeyValue | None:
        row = self._connection.execute(
            "SELECT rev, created, deleted, value FROM kv WHERE key = ? ORDER BY rev DESC LIMIT 1",
            (key,),
        ).fetchone()
        if row is None or row[2]:
            return None
        return KeyValue(key, row[3], row[1], row[0])

    def _insert(self, op: WriteOp, *, created: int | None, prev: KeyValue | None) -> KeyValue:
        self.revision += 1
        revision = self.revision
        deleted = op.kind is OpKind.DELETE
        value = b"" if deleted else op.value
        create_revision = revision if created is None else created
        self._connection.execute(
            "INSERT INTO kv (rev, key, created, prev_rev, deleted, value, expires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                revision,
                op.key,
                create_revision,
                prev.mod_revision if prev else None,
                int(deleted),
                value,
                None if deleted else op.expires,
            ),
        )
        return KeyValue(op.key, value, create_revision, revision)

    def _compact_chunk(self, job: CompactJob) -> None:
        """Remove the rows superseded by writes in one chunk of revisions.

        Every write at or below the target hides its key's previous row from
        all reads at or after the target, and a tombstone at or below it hides
        itself; both go. Rows from before the previous compaction were handled
        then, so only writes since it are looked at. The new compacted
        revision is recorded in the first chunk's transaction, before any row
        goes, so a reader either sees the old bound and every row, or the new
        bound.
        """
        low = job.next_revision
        high = min(low + COMPACTION_CHUNK, job.target)
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            if job.target > self.compacted:
                self._connection.execute(
                    "UPDATE meta SET value = ? WHERE name = 'compacted'", (job.target,)
                )
            self._connection.execute(
                "DELETE FROM kv WHERE rev IN (SELECT prev_rev FROM kv"
                " WHERE rev > ? AND rev <= ? AND prev_rev IS NOT NULL)",
                (low, high),
            )
            self._connection.execute(
                "DELETE FROM kv WHERE rev > ? AND rev <= ? AND deleted = 1", (low, high)
            )
            self._connection.execute("COMMIT")
        except sqlite3.Error as error:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            job.error = StorageError(f"compaction failed: {error}")
            self._loop.call_soon_threadsafe(_settle_compaction, job)
            return
        self.compacted = max(self.compacted, job.target)
        if high < job.target:
            job.next_revision = high
            self._queue.put(job)  # after the writes already waiting
            return
        self._loop.call_soon_threadsafe(_settle_compaction, job)


def _settle_compaction(job: CompactJob) -> None:
    if job.future.done():
        return
    if job.error is not None:
        job.future.set_exception(job.error)
    else:
        job.future.set_result(None)
