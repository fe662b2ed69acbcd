"""etcd watch streams, and one etcd watch per watched prefix, shared in process.

Watches survive a member's death: the stream is re-created on another
endpoint from the revision after the last event delivered, so events are
still each delivered once, in order; a gap that compaction has removed
meanwhile raises CompactedError.

Shared streams. With one etcd watch per call, N watchers of a prefix (the
API server has one per informer) make etcd send, and this process decode,
every event N times. So the store keeps ONE etcd watch per watched prefix
(:class:`_SharedWatch`) and hands its events to each watcher through a
bounded in-process buffer (:mod:`pynetes.storage.fanout`). It starts, from
the first watcher's ``after_revision``, when the first watcher of the prefix
arrives, and is cancelled when the last one leaves.

Catch-up. A shared stream knows ``last``: every event under its prefix up to
``last`` has been published, and every later one will be, to each watcher
registered at the time. ``last`` is the revision of the newest event it
published, or, before the first, the revision it started after. A watcher
registers and reads ``last`` (H) with no await in between, so its buffer
receives every event after H. If it asked for an older revision A < H, it
first catches up with a temporary etcd watch of its own from A + 1, yielding
what that watch delivers until it has delivered revision H or a later one;
then it yields from its buffer only what is newer than what it has yielded.
A watcher whose buffer overflowed catches up the same way from where it got
to, against the ``last`` of that moment.

How a catch-up knows it has reached H. An etcd watch sends nothing while
nothing under its prefix changes, so silence proves nothing, and etcd 3.4's
response headers and progress notifications cannot replace events: a watch
that starts in the past gets its "created" response, the answer to a
progress request (WatchProgressRequest) and each replayed batch of up to
1,000 revisions all stamped with the store's *current* revision, before the
older events arrive (seen on etcd 3.4.23; etcd issue 15220 fixed progress
requests later, and issue 17507 then left a new watch of a quiet range
without an answer). So a catch-up ends on events only. When H is the
revision of an event the shared stream published, the temporary watch (same
range, same history) delivers that event too, and then has reached H. When
the shared stream has published nothing yet, H is its starting point, which
no event marks: the temporary watch then goes on, a complete watch in
itself, until it delivers an event after H, which the shared stream
publishes too; until then there was nothing to deliver anyway.

Revisions with several events (a transaction; a lease revoked with all its
keys). etcd sends the events of one revision in one response and the shared
stream publishes a response at once, so a buffer holds whole revisions,
except when it overflows part way through one. A watcher therefore counts
how many events of its newest revision it has yielded (:class:`_Position`),
and its catch-up starts at that revision and skips them.

Failures. A shared stream that fails (etcd unreachable for longer than the
retry timeout, or the history it must resume from compacted) ends each of
its watchers with that error once it has yielded what its buffer holds, and
is forgotten, so the next watcher of the prefix starts a new one. Closing
the store ends every watcher without an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from aetcd import rpc

from pynetes.storage.errors import CompactedError, StorageError, UnavailableError
from pynetes.storage.etcd.cluster import (
    _METADATA,
    _Backoff,
    _cancelled_by_close,
    _classify,
    _Cluster,
    _Member,
    _Retry,
    _Verdict,
)
from pynetes.storage.etcd.codec import _encode, _watch_event
from pynetes.storage.fanout import Watcher, WatcherSet
from pynetes.storage.interface import WatchEvent, prefix_end


class _WatchStream:
    """One etcd watch, re-created on another endpoint when its stream breaks.

    It resumes from the revision after the last event it returned, so no
    event is lost or repeated. A stream that keeps breaking for longer than
    the retry timeout raises UnavailableError.
    """

    def __init__(self, cluster: _Cluster, key: bytes, end: bytes, after_revision: int) -> None:
        self._cluster = cluster
        self._key = key
        self._end = end
        self._next_revision = after_revision + 1
        self._call: grpc.aio.StreamStreamCall | None = None
        self._member: _Member | None = None
        self._broken_since: float | None = None
        self._backoff = _Backoff()

    async def next_events(self) -> list[WatchEvent] | None:
        """The events of the next response that has any; None once the store closed."""
        while not self._cluster.closed:
            try:
                response = await self._next_response()
            except UnavailableError:
                if self._cluster.closed:
                    return None
                raise
            if response is None:
                continue
            self._broken_since = None
            if response.compact_revision:
                raise CompactedError(self._next_revision - 1, response.compact_revision)
            if response.canceled:
                raise StorageError(f"etcd cancelled the watch: {response.cancel_reason}")
            events = [_watch_event(event) for event in response.events]
            if events:
                self._next_revision = events[-1].revision + 1
                self._backoff = _Backoff()
                return events
        return None

    async def _next_response(self) -> rpc.WatchResponse | None:
        """The next response, or None after a broken stream was dropped (to re-create)."""
        if self._call is None:
            self._call, first = await self._cluster.call("watch", self._open, idempotent=True)
            return first
        try:
            response = await self._call.read()
        except asyncio.CancelledError:
            if _cancelled_by_close(self._cluster):
                return None
            raise
        except grpc.aio.AioRpcError as error:
            if self._cluster.closed:
                return None
            if _classify(error, idempotent=True) is _Verdict.FAIL:
                raise StorageError(f"etcd watch failed: {error.details()}") from None
            await self._broken(f"{error.code().name}: {error.details()}")
            return None
        if response is grpc.aio.EOF:
            await self._broken("the server ended the stream")
            return None
        return response

    async def _open(
        self, member: _Member, seconds: float
    ) -> tuple[grpc.aio.StreamStreamCall, rpc.WatchResponse]:
        create = rpc.WatchCreateRequest(
            key=self._key,
            range_end=self._end,
            start_revision=self._next_revision,
            prev_kv=True,
        )
        call = member.watch.Watch(metadata=_METADATA)
        try:
            async with asyncio.timeout(seconds):
                await call.write(rpc.WatchRequest(create_request=create))
                first = await call.read()
        except BaseException:
            call.cancel()
            raise
        if first is grpc.aio.EOF:
            raise _Retry(f"{member.endpoint} ended the watch stream at once")
        self._member = member
        return call, first

    async def _broken(self, reason: str) -> None:
        """Drop the stream; raise UnavailableError if it has been broken too long."""
        self.cancel()
        if self._member is not None:
            self._cluster.rotate(self._member)
        now = time.monotonic()
        if self._broken_since is None:
            self._broken_since = now
        elapsed = now - self._broken_since
        if elapsed >= self._cluster.retry_timeout:
            raise self._cluster.unavailable("watch", elapsed, reason)
        await self._backoff.sleep(self._cluster.retry_timeout - elapsed)

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None


class _SharedWatch:
    """One etcd watch of a prefix whose events are published to every watcher of it.

    ``last`` and the catch-up it serves are described in the module
    docstring; ``error`` is why the stream ended, if it failed.
    """

    def __init__(
        self,
        cluster: _Cluster,
        prefix: str,
        after_revision: int,
        on_end: Callable[[_SharedWatch], None],
    ) -> None:
        self.prefix = prefix
        self.last = after_revision
        self.error: Exception | None = None
        self._watchers = WatcherSet()
        self._count = 0
        self._stream = _WatchStream(
            cluster, _encode(prefix), _encode(prefix_end(prefix)), after_revision
        )
        self._on_end = on_end
        self.task = asyncio.create_task(self._pump())

    def add(self, max_pending: int) -> Watcher:
        self._count += 1
        return self._watchers.add(self.prefix, max_pending=max_pending)

    def remove(self, watcher: Watcher) -> bool:
        """Forget ``watcher``; True if it was the last."""
        self._watchers.remove(watcher)
        self._count -= 1
        return self._count == 0

    async def _pump(self) -> None:
        """Publish each response's events, decoded once, to every watcher."""
        try:
            while (events := await self._stream.next_events()) is not None:
                self._watchers.publish(events)
                self.last = events[-1].revision
        except Exception as error:
            self.error = error
        finally:
            self.close()

    def close(self) -> None:
        """Cancel the etcd watch and end the watchers; idempotent."""
        self._on_end(self)
        self._stream.cancel()
        self._watchers.close_all()
        if self.task is not asyncio.current_task():
            self.task.cancel()


class _Position:
    """How far a watcher has got.

    Every event up to revision ``done`` has been yielded, and the first
    ``partial`` events of revision ``done + 1`` (whose other events a buffer
    overflow may have dropped).
    """

    __slots__ = ("done", "partial")

    def __init__(self, after_revision: int) -> None:
        self.done = after_revision
        self.partial = 0

    def advance(self, revision: int) -> None:
        """One more event, of ``revision``, has been yielded."""
        if revision > self.done + 1:
            self.done, self.partial = revision - 1, 1
        else:
            self.partial += 1

    def complete(self, revision: int) -> None:
        """Every event up to ``revision`` has been yielded."""
        self.done, self.partial = revision, 0


class _Watches:
    """The shared etcd watches of one store, by prefix, and what each watcher does with them.

    ``check_open()`` raises StorageError once the store is closed.
    ``check(after_revision)`` raises CompactedError when history after that
    revision is not all there; it runs before a watcher registers, and again
    before each catch-up after an overflow.
    """

    def __init__(
        self,
        cluster: _Cluster,
        *,
        check_open: Callable[[], None],
        check: Callable[[int], Awaitable[None]],
        max_pending: int,
    ) -> None:
        self._cluster = cluster
        self._check_open = check_open
        self._check = check
        self._max_pending = max_pending
        self._shared: dict[str, _SharedWatch] = {}
        self._closed = False

    async def watch(self, prefix: str, after_revision: int) -> AsyncIterator[WatchEvent]:
        """Every change under ``prefix`` after ``after_revision`` (see the module docstring).

        The store's ``watch``: one async generator, no layer in between, as
        every event passes through it once per watcher.
        """
        self._check_open()
        key, end = _encode(prefix), _encode(prefix_end(prefix))
        try:
            await self._check(after_revision)
            if self._closed:
                return
            shared = self._shared.get(prefix)
            if shared is None:
                shared = _SharedWatch(self._cluster, prefix, after_revision, self._forget)
                self._shared[prefix] = shared
            watcher = shared.add(self._max_pending)
        except StorageError:
            if self._cluster.closed:
                return  # closing the store ends its watches
            raise
        position = _Position(after_revision)
        checked = True
        try:
            while True:
                # Registered (or restarted) and read ``last`` with no await
                # between: events after it arrive through the buffer.
                watcher.restart()
                caught_up_to = shared.last
                if position.done < caught_up_to:
                    if not checked:
                        await self._check(position.done)
                    stream = _WatchStream(self._cluster, key, end, position.done)
                    try:
                        skip = position.partial
                        while position.done < caught_up_to:
                            events = await stream.next_events()
                            if events is None:
                                return  # the store closed
                            if events[-1].revision >= caught_up_to:
                                stream.cancel()  # its last batch: free it before yielding
                            for event in events:
                                if skip and event.revision == position.done + 1:
                                    skip -= 1
                                    continue
                                yield event
                            position.complete(events[-1].revision)
                    finally:
                        stream.cancel()
                checked = False
                floor = position.done
                while (event := await watcher.next()) is not None:
                    if event.revision > floor:
                        yield event
                        position.advance(event.revision)
                if watcher.closed:
                    if shared.error is not None:
                        raise shared.error
                    return
        except StorageError:
            if self._cluster.closed:
                return  # closing the store ends its watches
            raise
        finally:
            if shared.remove(watcher):
                shared.close()

    def _forget(self, shared: _SharedWatch) -> None:
        if self._shared.get(shared.prefix) is shared:
            del self._shared[shared.prefix]

    async def close(self) -> None:
        """End every watcher (without an error) and cancel the etcd watches."""
        self._closed = True
        shared = list(self._shared.values())
        for one in shared:
            one.close()
        await asyncio.gather(*(one.task for one in shared), return_exceptions=True)
