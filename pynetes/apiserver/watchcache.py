"""The watch cache: one store watch per resource, served to every reader from memory.

As kube-apiserver's cacher does, each resource keeps the current state of
all its objects (sorted by key) and a window of recent events, fed by a
single watch on the store. LIST and GET are answered from the state once
the cache has caught up with the store's current revision (a consistent
read); WATCH replays from the window and then follows live events. Each
object is encoded to JSON once, however many clients receive it.

Objects in the cache are shared: nobody may mutate them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sortedcontainers import SortedDict

from pynetes.apiserver.codec import Object, decode_from_storage
from pynetes.storage import CompactedError, EventType, Store, WatchEvent

log = logging.getLogger(__name__)

#: Events kept for watchers that resume from a recent resourceVersion (upstream: 75 s).
HISTORY_SECONDS = 75.0
HISTORY_CAPACITY = 100_000
#: Undelivered events one watcher may hold before it is closed as too slow.
WATCHER_QUEUE_LIMIT = 10_000
#: The longest a delivery round holds the event loop before letting requests in.
ROUND_SLICE_SECONDS = 0.002
LIST_PAGE = 10_000

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class CachedObject:
    """An object as of ``revision``, kept as its JSON encoding.

    The bytes are what GETs, LISTs and watch events send, so they are made once;
    ``obj`` decodes a fresh copy for the readers that need fields (selectors,
    tables, admission). With 10,000 pods stored the API server's RSS was 247
    MiB when the cache kept dicts, 163 MiB with bytes. Encoded anew for every
    read instead, a GET cost 50 us more and a LIST of 10,000 pods 150 ms more:
    encoding walks objects scattered over the heap.
    """

    __slots__ = ("_encoded", "key", "revision")

    def __init__(self, key: str, obj: Object, revision: int) -> None:
        self.key = key
        self.revision = revision
        self._encoded = orjson.dumps(obj)

    @property
    def obj(self) -> Object:
        """A fresh copy of the object: the caller's to keep or change."""
        return orjson.loads(self._encoded)

    def encoded(self) -> bytes:
        return self._encoded


@dataclass(slots=True)
class CacheEvent:
    """A change as the cache saw it; ``previous`` is the object before it."""

    type: str
    current: CachedObject
    previous: CachedObject | None
    time: float
    _frames: dict[str, bytes] = field(default_factory=dict)

    @property
    def revision(self) -> int:
        return self.current.revision

    def frame(self, event_type: str) -> bytes:
        """The watch stream line for this event, shared by all watchers."""
        frame = self._frames.get(event_type)
        if frame is None:
            frame = b'{"type":"%s","object":%s}\n' % (
                event_type.encode(),
                self.current.encoded(),
            )
            self._frames[event_type] = frame
        return frame


Predicate = Callable[[Object], bool]


class ExpiredError(Exception):
    """The requested resourceVersion is older than the cache's history (HTTP 410)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class Batch:
    """The events one flush hands to every watcher, with work they can share.

    Watchers of the same prefix without a predicate receive the same bytes:
    ``memo`` lets the first of them compute those bytes and the rest reuse
    them, so a flush costs one encoding however many watchers follow.
    """

    __slots__ = ("_memo", "_under", "events")

    def __init__(self, events: list[CacheEvent]) -> None:
        self.events = events
        self._under: dict[str, bool] = {}
        self._memo: dict[object, Any] = {}

    def all_under(self, prefix: str) -> bool:
        """Whether every event's key starts with ``prefix``."""
        known = self._under.get(prefix)
        if known is None:
            known = self._under[prefix] = all(
                event.current.key.startswith(prefix) for event in self.events
            )
        return known

    def decoded(self, cached: CachedObject) -> Object:
        """``cached.obj``, decoded once per batch for all the watchers that filter it
        (read only: shared by them)."""
        return self.memo(cached, lambda: cached.obj)

    def memo(self, key: object, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per batch for each ``key``."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value


class CacheWatcher:
    """One consumer's view: events under ``prefix`` whose objects pass ``predicate``.

    An object that starts passing is delivered as ADDED, one that stops as
    DELETED, as upstream's watch filtering does. Subclasses decide what
    delivery means (a queue of events, bytes on a connection); the cache
    calls :meth:`deliver` once per flush, in revision order, never after
    :meth:`close`.
    """

    def __init__(self, prefix: str, predicate: Predicate | None) -> None:
        self.prefix = prefix
        self.predicate = predicate
        self.closed = False
        self.too_slow = False
        #: The revision its first events were taken at: older events are not for it.
        self.since = 0

    def deliver(self, batch: Batch) -> None:
        raise NotImplementedError

    def fresh(self, batch: Batch) -> Batch | None:
        """``batch`` without the events up to :attr:`since` (None if nothing is left)."""
        if batch.events[0].revision > self.since:
            return batch
        later = [event for event in batch.events if event.revision > self.since]
        return Batch(later) if later else None

    def unfiltered(self, batch: Batch) -> bool:
        """Whether this watcher receives every event of ``batch`` unchanged."""
        return self.predicate is None and batch.all_under(self.prefix)

    def select(self, batch: Batch) -> list[tuple[str, CacheEvent]]:
        """The events of ``batch`` this watcher receives, each with its delivered type."""
        if self.unfiltered(batch):
            return [(event.type, event) for event in batch.events]
        selected = []
        for event in batch.events:
            if event.current.key.startswith(self.prefix):
                delivered = self._filtered_type(event, batch)
                if delivered is not None:
                    selected.append((delivered, event))
        return selected

    def _filtered_type(self, event: CacheEvent, batch: Batch) -> str | None:
        predicate = self.predicate
        if predicate is None:
            return event.type
        current = batch.decoded(event.current)
        if event.type == DELETED:
            return DELETED if predicate(current) else None
        now = predicate(current)
        before = event.previous is not None and predicate(batch.decoded(event.previous))
        if now and before:
            return MODIFIED
        if now:
            return ADDED
        if before:
            return DELETED
        return None

    def close(self) -> None:
        self.closed = True


class EventWatcher(CacheWatcher):
    """A watcher for consumers inside the server: a queue of events to await."""

    def __init__(self, prefix: str, predicate: Predicate | None) -> None:
        super().__init__(prefix, predicate)
        self._queue: deque[tuple[str, CacheEvent]] = deque()
        self._wakeup = asyncio.Event()

    def deliver(self, batch: Batch) -> None:
        fresh = self.fresh(batch)
        if self.closed or fresh is None:
            return
        selected = self.select(fresh)
        if not selected:
            return
        if len(self._queue) + len(selected) > WATCHER_QUEUE_LIMIT:
            self.too_slow = True
            self.close()
            return
        self._queue.extend(selected)
        self._wakeup.set()

    def close(self) -> None:
        super().close()
        self._wakeup.set()

    async def next_batch(self) -> list[tuple[str, CacheEvent]]:
        """Every event waiting (at least one); empty once closed."""
        while not self._queue:
            if self.closed:
                return []
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = list(self._queue)
        self._queue.clear()
        return batch


class _Round:
    """One batch on its way to the watchers registered when it started."""

    __slots__ = ("batch", "closed", "position", "watchers")

    def __init__(self, batch: Batch, watchers: list[CacheWatcher]) -> None:
        self.batch = batch
        self.watchers = watchers
        self.position = 0
        self.closed: list[CacheWatcher] = []

    def deliver(self, until: float, prefix: str) -> bool:
        """Deliver to the next watchers until ``until`` (thread CPU time); True when done."""
        watchers, batch = self.watchers, self.batch
        while self.position < len(watchers):
            watcher = watchers[self.position]
            self.position += 1
            if not watcher.closed:
                try:
                    watcher.deliver(batch)
                except Exception:  # one broken consumer must not starve the others
                    log.exception("watch cache %s: a watcher failed; closing it", prefix)
                    watcher.close()
            if watcher.closed:
                self.closed.append(watcher)
            if self.position % 16 == 0 and time.thread_time() >= until:
                return self.position >= len(watchers)
        return True


class WatchCache:
    """The cache of one resource, whose keys start with ``prefix`` in ``store``."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        *,
        decorate: Callable[[Object], Object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._prefix = prefix
        self._decorate = decorate
        self._clock = clock
        self._state: SortedDict[str, CachedObject] = SortedDict()
        self._history: deque[CacheEvent] = deque()
        self._history_start = 0
        self._watchers: set[CacheWatcher] = set()
        self._pending: list[CacheEvent] = []
        self._round: _Round | None = None
        self._expected: dict[str, tuple[bytes, Object]] = {}
        self.revision = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the current state, then follow the store from its revision."""
        await self._load()
        self._task = asyncio.create_task(self._follow(), name=f"watch-cache {self._prefix}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close_watchers()

    def _close_watchers(self) -> None:
        for watcher in self._watchers:
            watcher.close()
        self._watchers.clear()

    async def _load(self) -> None:
        state: SortedDict[str, CachedObject] = SortedDict()
        page = await self._store.list(self._prefix, limit=LIST_PAGE)
        revision = page.revision
        while True:
            for kv in page.items:
                state[kv.key] = CachedObject(kv.key, self._decode(kv), kv.mod_revision)
            if page.continue_token is None:
                break
            page = await self._store.list(
                self._prefix, limit=LIST_PAGE, continue_token=page.continue_token
            )
        self._state = state
        self._history.clear()
        self._history_start = revision
        self.revision = revision

    def expect_write(self, key: str, value: bytes, obj: Object) -> None:
        """``value``, about to be written at ``key``, holds ``obj``: when the write's
        event comes, encode ``obj`` (with its resourceVersion set) instead of decoding
        ``value`` again. Until then nobody may change ``obj`` but for setting that same
        resourceVersion. The event is recognised by the very bytes object, so an event
        from elsewhere (etcd) is decoded as usual.
        """
        self._expected[key] = (value, obj)

    def forget_write(self, key: str, value: bytes) -> None:
        """The write announced with ``value`` failed."""
        expected = self._expected.get(key)
        if expected is not None and expected[0] is value:
            del self._expected[key]

    def _object_of(self, change: WatchEvent) -> Object:
        expected = self._expected.pop(change.kv.key, None) if self._expected else None
        if expected is None or expected[0] is not change.kv.value:
            return self._decode(change.kv)
        obj = expected[1]
        obj.setdefault("metadata", {})["resourceVersion"] = str(change.revision)
        return obj

    def _decode(self, kv: Any, revision: int | None = None) -> Object:
        obj = decode_from_storage(kv, revision=revision)
        return self._decorate(obj) if self._decorate is not None else obj

    async def _follow(self) -> None:
        while True:
            try:
                async with contextlib.aclosing(
                    self._store.watch(self._prefix, after_revision=self.revision)
                ) as events:
                    async for event in events:
                        self._apply(event)
            except CompactedError:
                log.warning("watch cache %s fell behind compaction; reloading", self._prefix)
                self._close_watchers()
                await self._load()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watch cache %s lost its store watch; resuming", self._prefix)
                await asyncio.sleep(1.0)

    def _apply(self, change: WatchEvent) -> None:
        key = change.kv.key
        previous = self._state.get(key)
        if change.type is EventType.DELETED:
            if previous is None:
                return self._advance(change.revision)
            last = change.prev_kv or change.kv
            gone = CachedObject(key, self._decode(last, change.revision), change.revision)
            del self._state[key]
            event = CacheEvent(DELETED, gone, previous, self._clock())
        else:
            current = CachedObject(key, self._object_of(change), change.revision)
            self._state[key] = current
            event = CacheEvent(
                ADDED if previous is None else MODIFIED, current, previous, self._clock()
            )
        self._record(event)
        if self._watchers:
            if not self._pending:
                self._schedule_flush()
            self._pending.append(event)
        self._advance(change.revision)
        return None

    def _schedule_flush(self) -> None:
        """Start a delivery round at the end of this loop pass, unless one is under way:
        events that arrive during a round gather into the next round's batch, so
        batches grow with the cost of a round (the number of watchers) by themselves.
        """
        if self._round is None:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Hand the events applied since the last round to every watcher, as one batch:
        a burst of writes costs each watcher one delivery, not one per event.

        A round runs in slices of at most ROUND_SLICE_SECONDS of CPU, so that
        requests are served between them rather than waiting for a round over
        thousands of connections; rounds follow one another in revision order.
        """
        current = self._round
        if current is None:
            if not self._pending:
                return
            current = self._round = _Round(Batch(self._pending), list(self._watchers))
            self._pending = []
        if not current.deliver(time.thread_time() + ROUND_SLICE_SECONDS, self._prefix):
            asyncio.get_running_loop().call_soon(self._flush)
            return
        self._round = None
        self._watchers.difference_update(current.closed)
        if self._pending:
            self._schedule_flush()

    @property
    def delivered_revision(self) -> int:
        """The revision every watcher has been handed all events up to (for bookmarks)."""
        if self._round is not None:
            return self._round.batch.events[0].revision - 1
        return self._pending[0].revision - 1 if self._pending else self.revision

    def _record(self, event: CacheEvent) -> None:
        self._history.append(event)
        horizon = event.time - HISTORY_SECONDS
        while self._history and (
            len(self._history) > HISTORY_CAPACITY or self._history[0].time < horizon
        ):
            self._history_start = self._history.popleft().revision

    def _advance(self, revision: int) -> None:
        self.revision = revision
        if not self._waiters:
            return
        waiting = []
        for target, future in self._waiters:
            if future.done():
                continue
            if target <= revision:
                future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    async def wait_until(self, revision: int, within: float) -> bool:
        """Wait until the cache has seen ``revision``; False on timeout."""
        if self.revision >= revision:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, future))
        try:
            async with asyncio.timeout(within):
                await future
        except TimeoutError:
            return False
        return True

    # -- reads ---------------------------------------------------------------

    def get(self, key: str) -> CachedObject | None:
        return self._state.get(key)

    def list(self, prefix: str) -> list[CachedObject]:
        """Objects whose key starts with ``prefix``, in key order."""
        return list(self.iterate(prefix))

    def iterate(self, prefix: str) -> Iterator[CachedObject]:
        """As :meth:`list`, lazily: a page of a large list stops early."""
        state = self._state
        for key in state.irange(prefix, prefix + "\uffff", inclusive=(True, False)):
            yield state[key]

    def watch(self, watcher: CacheWatcher, *, after: int | None) -> list[tuple[str, CacheEvent]]:
        """Register ``watcher``; returns the events to send it first.

        ``after`` None asks for the current state as ADDED events first (a
        watch without a resourceVersion, or with "0"); otherwise the changes
        after that revision from the history window (ExpiredError if the
        window no longer reaches back that far).
        Registration and the first events are taken in one step, so nothing
        falls between them: the first events are as of :attr:`revision`, and
        the watcher skips events up to it still on their way to the others.
        """
        watcher.since = self.revision if after is None else max(self.revision, after)
        prefix, predicate = watcher.prefix, watcher.predicate
        if after is None:
            first = [
                (ADDED, CacheEvent(ADDED, cached, None, 0.0))
                for cached in self.list(prefix)
                if predicate is None or predicate(cached.obj)
            ]
        else:
            if after < self._history_start:
                raise ExpiredError(after, self._history_start)
            missed: list[CacheEvent] = []
            for event in reversed(self._history):
                if event.revision <= after:
                    break
                missed.append(event)
            missed.reverse()
            first = watcher.select(Batch(missed))
        self._watchers.add(watcher)
        return first
