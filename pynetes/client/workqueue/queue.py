"""The basic work queue: client-go's workqueue.Typed for asyncio.

Keys wait in FIFO order and are deduplicated: a key added while it waits is
queued once. A key is never handed to two workers at once: a key added while
a worker holds it is remembered (dirty) and queued again only when the worker
calls :meth:`Queue.done`, so the change that re-added it is seen by a later,
not a concurrent, pass. This is what lets controllers run many workers
without locking per object.

Everything runs on one event loop, so the queue needs no locks: each method
is atomic between awaits.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from pynetes.client.flowcontrol import Clock
from pynetes.client.workqueue.metrics import NO_METRICS, WorkqueueMetrics

K = TypeVar("K", bound=Hashable)


class Queue(Generic[K]):
    """A deduplicating FIFO of keys that a key leaves only once per worker pass.

    Workers loop ``key = await queue.get()``, process it, then call
    ``queue.done(key)`` (always, in a ``finally``). :meth:`get` returns
    ``None`` once the queue is shut down *and* drained of waiting keys, as
    client-go's ``Get`` returns ``shutdown=true``; ``None`` is therefore not a
    valid key. ``name`` and ``metrics`` select the Prometheus label set
    (unnamed queues are not measured); ``clock`` times the metrics.
    """

    def __init__(
        self,
        *,
        name: str = "",
        metrics: WorkqueueMetrics | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self._clock = clock
        self._metrics = NO_METRICS if metrics is None else metrics.for_queue(name, clock)
        self._queue: deque[K] = deque()
        #: Keys that need processing: waiting in _queue, or re-added while held.
        self._dirty: set[K] = set()
        #: Keys a worker holds, between get() and done().
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._draining = False

    def __len__(self) -> int:
        """Keys waiting to be taken (not those held by workers); informational only."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        """Whether shut_down() or shut_down_with_drain() was called."""
        return self._shutting_down

    def add(self, key: K) -> None:
        """Mark ``key`` as needing processing; ignored once shutting down.

        A key already waiting stays where it is; a key a worker holds is
        queued again when the worker calls :meth:`done`.
        """
        if self._shutting_down or key in self._dirty:
            return
        self._metrics.add(key)
        self._dirty.add(key)
        if key not in self._processing:
            self._push(key)

    async def get(self) -> K | None:
        """The next key, waiting for one; ``None`` once shut down and drained.

        After shutdown the keys still waiting are handed out first (client-go's
        behaviour under both ShutDown and ShutDownWithDrain), so a worker loop
        ends only when there is nothing left to do. The caller owns the key
        until it calls :meth:`done`.
        """
        while not self._queue:
            if self._shutting_down:
                return None
            await self._wait_for_key()
        key = self._queue.popleft()
        self._metrics.get(key)
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """Give ``key`` back; queue it again if it was added while held."""
        self._metrics.done(key)
        self._processing.discard(key)
        if key in self._dirty:
            self._push(key)
        elif not self._processing:
            _wake_all(self._drain_waiters)

    def shut_down(self) -> None:
        """Refuse new keys and wake every waiting getter; do not wait for workers.

        Called while :meth:`shut_down_with_drain` waits, it ends that wait,
        as upstream's ShutDown does.
        """
        self._draining = False
        self._stop_accepting()
        _wake_all(self._drain_waiters)

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until no worker holds a key (or shut_down() is called).

        Keys still waiting are not waited for: workers that keep calling
        :meth:`get` take them, and the wait ends when none is held.
        """
        self._draining = True
        self._stop_accepting()
        loop = asyncio.get_running_loop()
        while self._processing and self._draining:
            waiter = loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _stop_accepting(self) -> None:
        """Mark the queue shutting down and release every blocked getter."""
        self._shutting_down = True
        _wake_all(self._getters)

    def _push(self, key: K) -> None:
        self._queue.append(key)
        self._wake_one_getter()

    def _wake_one_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    async def _wait_for_key(self) -> None:
        """Wait until a key is pushed or the queue shuts down.

        A getter cancelled after being woken passes its wake-up on, so a key
        is never left waiting while another getter sleeps.
        """
        waiter = asyncio.get_running_loop().create_future()
        self._getters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._wake_one_getter()
            raise
        finally:
            if waiter in self._getters:
                self._getters.remove(waiter)


def _wake_all(waiters: deque[asyncio.Future[None]] | list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()
