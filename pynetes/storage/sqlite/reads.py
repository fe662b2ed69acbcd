"""Reads from the revision log; each runs in one read transaction, on a reader thread.

A read transaction in WAL mode is a snapshot: the revision and compaction
bounds in ``meta`` and the rows read with them are of one instant, never
half of a concurrent commit or compaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from pynetes.storage.errors import CompactedError, FutureRevisionError
from pynetes.storage.interface import EventType, KeyValue, WatchEvent

#: SQLite's LIMIT is a signed 64-bit integer; larger limits mean "all".
_MAX_LIMIT = 2**62
#: Events one replay query reads; a watcher far behind catches up in pages of this size.
REPLAY_PAGE = 1000

# Live entries of [?, ?) as of revision ?. The correlated form walks keys in
# order and stops at LIMIT; the grouped form counts a whole range from the
# (key, rev, deleted) index alone (SQLite gives a bare column the value of the
# row that max() picked): 10,000 keys in 5 ms from a cold connection, 54 ms when
# each key's newest row was read from the table.
_LATEST_AT = (
    "SELECT key, value, created, rev FROM kv AS row"
    " WHERE key >= ? AND key < ? AND deleted = 0"
    " AND rev = (SELECT max(rev) FROM kv WHERE key = row.key AND rev <= ?)"
)
_COUNT_AT = (
    "SELECT count(*) FROM (SELECT max(rev), deleted FROM kv"
    " WHERE key >= ? AND key < ? AND rev <= ? GROUP BY key) WHERE deleted = 0"
)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The newest and the compacted revision, as of a snapshot."""

    revision: int
    compacted: int


def bounds(connection: sqlite3.Connection) -> Bounds:
    values = dict(connection.execute("SELECT name, value FROM meta").fetchall())
    return Bounds(revision=values["revision"], compacted=values["compacted"])


def get(connection: sqlite3.Connection, key: str) -> KeyValue | None:
    row = connection.execute(
        "SELECT rev, created, deleted, value FROM kv WHERE key = ? ORDER BY rev DESC LIMIT 1",
        (key,),
    ).fetchone()
    if row is None or row[2]:
        return None
    return KeyValue(key, row[3], row[1], row[0])


@dataclass(frozen=True, slots=True)
class Range:
    """Entries of ``[start, end)`` as of ``revision``; ``remaining`` counts those past the page."""

    items: list[KeyValue]
    revision: int
    more: bool
    remaining: int


def read_range(
    connection: sqlite3.Connection, start: str, end: str, *, revision: int | None, limit: int
) -> Range:
    """Up to ``limit`` (0: all) live entries in key order, as they were at ``revision``."""
    with _snapshot(connection):
        at = _checked_revision(bounds(connection), revision)
        query = _LATEST_AT + " ORDER BY key"
        parameters: tuple[object, ...] = (start, end, at)
        if limit:
            query += " LIMIT ?"
            parameters += (min(limit, _MAX_LIMIT) + 1,)
        rows = connection.execute(query, parameters).fetchall()
        more = bool(limit) and len(rows) > limit
        items = [KeyValue(*row) for row in rows[: limit or None]]
        remaining = 0
        if more:
            remaining = connection.execute(_COUNT_AT, (items[-1].key + "\0", end, at)).fetchone()[0]
    return Range(items, at, more, remaining)


def replay(
    connection: sqlite3.Connection, start: str, end: str, *, after: int, until: int
) -> list[WatchEvent]:
    """The next page of changes to keys in ``[start, end)`` with ``after < revision <= until``.

    Raises CompactedError if ``after`` is older than the compacted revision.
    """
    with _snapshot(connection):
        compacted = bounds(connection).compacted
        if after < compacted:
            raise CompactedError(after, compacted)
        rows = connection.execute(
            "SELECT row.key, row.rev, row.created, row.deleted, row.value,"
            " prev.rev, prev.created, prev.deleted, prev.value"
            " FROM kv AS row LEFT JOIN kv AS prev ON prev.rev = row.prev_rev"
            " WHERE row.rev > ? AND row.rev <= ? AND row.key >= ? AND row.key < ?"
            " ORDER BY row.rev LIMIT ?",
            (after, until, start, end, REPLAY_PAGE),
        ).fetchall()
    return [_event(*row) for row in rows]


def expired(connection: sqlite3.Connection, now: float) -> list[KeyValue]:
    """Live entries whose TTL has run out by ``now``."""
    rows = connection.execute(
        "SELECT key, value, created, rev FROM kv AS row"
        " WHERE expires <= ? AND deleted = 0"
        " AND rev = (SELECT max(rev) FROM kv WHERE key = row.key)",
        (now,),
    ).fetchall()
    return [KeyValue(*row) for row in rows]


def _event(
    key: str,
    revision: int,
    created: int,
    deleted: int,
    value: bytes,
    prev_revision: int | None,
    prev_created: int | None,
    prev_deleted: int | None,
    prev_value: bytes | None,
) -> WatchEvent:
    prev = None
    if prev_revision is not None and not prev_deleted:
        assert prev_created is not None and prev_value is not None
        prev = KeyValue(key, prev_value, prev_created, prev_revision)
    kv = KeyValue(key, value, created, revision)
    if deleted:
        return WatchEvent(EventType.DELETED, kv, prev)
    return WatchEvent(EventType.CREATED if prev is None else EventType.UPDATED, kv, prev)


def _checked_revision(current: Bounds, revision: int | None) -> int:
    if revision is None or revision == 0:
        return current.revision
    if revision < current.compacted:
        raise CompactedError(revision, current.compacted)
    if revision > current.revision:
        raise FutureRevisionError(revision, current.revision)
    return revision


@contextlib.contextmanager
def _snapshot(connection: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: everything read inside sees one committed state."""
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")
