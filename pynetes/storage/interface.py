"""The storage contract every backend keeps: a revisioned, watchable key-value store.

The semantics are etcd v3's, because the API server's resourceVersion,
optimistic concurrency and watch are built on them:

* One global revision grows by one with every write (create, update, delete).
* Every live entry carries ``create_revision`` (the revision that created it)
  and ``mod_revision`` (the revision of its last change). An object's
  resourceVersion is its ``mod_revision``.
* ``watch(prefix, after_revision=R)`` yields every change with revision > R,
  in revision order, each exactly once, carrying the previous value.
* History older than the compacted revision is gone: reading or watching it
  raises :class:`CompactedError` (the API server answers 410 Gone).
"""

from __future__ import annotations

import abc
import enum
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from pynetes.storage.errors import ConflictError, KeyNotFoundError, ValueTooLargeError

#: etcd refuses requests over 1.5 MiB (its default ``--max-request-bytes``).
MAX_VALUE_BYTES = 1536 * 1024


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One entry as it stands at ``mod_revision``."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change.

    ``kv`` is the entry after the change; for DELETED its value is empty and its
    ``mod_revision`` is the revision of the deletion. ``prev_kv`` is the entry
    before the change (None for CREATED).
    """

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a prefix listing, read at ``revision``.

    ``continue_token`` is None on the last page; otherwise passing it back to
    :meth:`Store.list` returns the next page read at the same revision.
    ``remaining`` counts the entries after this page (None when there are none).
    """

    items: list[KeyValue]
    revision: int
    continue_token: str | None
    remaining: int | None


UpdateFunction = Callable[[KeyValue], Awaitable[bytes | None] | bytes | None]


class Store(abc.ABC):
    """A revisioned key-value store with etcd's semantics.

    Keys are non-empty strings; values are bytes of at most
    :data:`MAX_VALUE_BYTES`. Every method is safe to call concurrently from
    one asyncio event loop.
    """

    @abc.abstractmethod
    async def create(self, key: str, value: bytes, *, ttl: float | None = None) -> KeyValue:
        """Store a new entry; raise KeyExistsError if the key exists.

        With ``ttl`` (seconds) the entry is deleted, as a normal write with its
        own revision and DELETED event, once that time has passed.
        """

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None:
        """The entry as it stands now, or None."""

    @abc.abstractmethod
    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int | None = None,
    ) -> ListPage:
        """Entries whose key starts with ``prefix``, in key order.

        ``limit`` 0 means all. ``revision`` reads the state as it was at that
        revision (None: now). A ``continue_token`` carries its own revision and
        start key, so all pages of one listing are read at the revision of the
        first. Raises CompactedError when the revision is older than the
        compacted one, InvalidContinueTokenError for a token it did not issue.
        """

    @abc.abstractmethod
    async def update(
        self,
        key: str,
        value: bytes,
        *,
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> KeyValue:
        """Replace the value of an existing entry.

        With ``expected_revision`` the write happens only if the entry's
        ``mod_revision`` equals it (ConflictError otherwise). Raises
        KeyNotFoundError when the key does not exist. The TTL of the entry is
        the one given here (None: no TTL), as an etcd put replaces the lease.
        """

    @abc.abstractmethod
    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete an entry and return its last value.

        The returned KeyValue's ``mod_revision`` is the revision of the
        deletion (the API server reports it as the deleted object's
        resourceVersion). KeyNotFoundError and ConflictError as for update.
        """

    @abc.abstractmethod
    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        """Every change to keys under ``prefix`` with revision > ``after_revision``.

        Returns an async generator: close it (``contextlib.aclosing``) to stop
        watching. Raises CompactedError, on the first iteration or later if
        the watcher falls so far behind that history it needs is compacted.
        """

    #: Whether other processes may write to the same data (etcd: other API
    #: servers). A cache fed by this process's watch is then not proof of the
    #: current state: consistent reads must go to the store, as upstream's do
    #: on an etcd without reliable progress notifications (before 3.4.31).
    shared: bool = False

    @abc.abstractmethod
    async def current_revision(self) -> int:
        """The revision of the newest write (0 for an empty store)."""

    @abc.abstractmethod
    async def compacted_revision(self) -> int:
        """The oldest revision that can still be read or watched from."""

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget the history before ``revision``.

        After it, ``list(revision=R)`` and ``watch(after_revision=R)`` work for
        every R >= ``revision`` and raise CompactedError below it.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop background work and release the backend; idempotent."""

    async def guaranteed_update(
        self,
        key: str,
        update: UpdateFunction,
        *,
        ttl: float | None = None,
        max_attempts: int = 100,
    ) -> KeyValue:
        """Read the entry, compute its new value, write it; retry on conflict.

        ``update`` receives the current KeyValue and returns the new value, or
        None to leave the entry unchanged (no write, the current entry is
        returned). It may be a coroutine function. It must not have side
        effects: it runs again whenever another writer got in first.
        """
        for _ in range(max_attempts):
            current = await self.get(key)
            if current is None:
                raise KeyNotFoundError(key)
            new_value = update(current)
            if inspect.isawaitable(new_value):
                new_value = await new_value
            if new_value is None:
                return current
            try:
                return await self.update(
                    key, new_value, expected_revision=current.mod_revision, ttl=ttl
                )
            except ConflictError:
                continue
        raise ConflictError(key, expected=None, actual=None)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def check_write(key: str, value: bytes) -> None:
    """Refuse what no backend may store: empty keys and values over the limit."""
    if not key:
        raise ValueError("storage keys must be non-empty")
    if len(value) > MAX_VALUE_BYTES:
        raise ValueTooLargeError(key, len(value), MAX_VALUE_BYTES)


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``.

    UTF-8 keeps code-point order, so this bound works for SQLite's BINARY
    collation and for etcd's byte-ordered ranges alike.
    """
    if not prefix:
        raise ValueError("a listing or watch needs a non-empty prefix")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
