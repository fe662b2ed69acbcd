"""Encoded responses, reused for queries that are the same bytes.

A response the server makes from its store depends only on the query's
bytes after its ID (flags, question, EDNS) and on the store: the cache keys
a response by those bytes (and the transport, which decides truncation) and
forgets everything when the store's serial moves, so an answer is never
staler than the store. Only the ID differs between two such responses.
Parsing and encoding with dnspython is most of the cost of a query; a hit
skips both.
"""

from __future__ import annotations

from typing import NamedTuple

from pynetes.dns.store import RecordStore

__all__ = ["DEFAULT_LIMIT", "AnswerCache", "Entry"]

#: Responses kept at most; past it the cache starts again empty (names asked
#: for are few in a cluster; a flood of distinct names must not grow memory).
DEFAULT_LIMIT = 10_000


class Entry(NamedTuple):
    """A response after its ID, and what the metrics count of it."""

    body: bytes
    qtype: str
    rcode: str
    plugin: str


class AnswerCache:
    """Responses of ``store`` by (transport, query bytes after the ID)."""

    def __init__(self, store: RecordStore, limit: int = DEFAULT_LIMIT) -> None:
        self._store = store
        self._limit = limit
        self._serial = store.serial
        self._entries: dict[tuple[str, bytes], Entry] = {}

    def get(self, proto: str, wire: bytes) -> Entry | None:
        if self._serial != self._store.serial:
            self._entries.clear()
            self._serial = self._store.serial
            return None
        return self._entries.get((proto, wire[2:]))

    def put(self, proto: str, wire: bytes, entry: Entry) -> None:
        """Remember ``entry`` as the response to ``wire`` (made at the current serial;
        nothing with a limit of 0)."""
        if not self._limit:
            return
        if self._serial != self._store.serial:
            self._entries.clear()
            self._serial = self._store.serial
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[(proto, wire[2:])] = entry
