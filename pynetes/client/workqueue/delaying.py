"""The delaying queue: client-go's AddAfter, on one timer instead of a goroutine.

Keys waiting for their time sit in a heap ordered by ready time; a single
timer is armed for the earliest. A key added again while it waits keeps the
earlier of its two ready times (client-go's waitingForQueue), so a later
retry never postpones a sooner one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

from pynetes.client.flowcontrol import Clock
from pynetes.client.workqueue.metrics import WorkqueueMetrics
from pynetes.client.workqueue.queue import K, Queue


class TimerHandle(Protocol):
    """What a timer returns: asyncio's TimerHandle satisfies it."""

    def cancel(self) -> None:
        """Keep the callback from running."""


#: Schedule ``callback`` after ``delay`` seconds, as loop.call_later does.
CallLater = Callable[[float, Callable[[], None]], TimerHandle]


def loop_call_later(delay: float, callback: Callable[[], None]) -> TimerHandle:
    """The running event loop's call_later: the default timer."""
    return asyncio.get_running_loop().call_later(delay, callback)


class DelayingQueue(Queue[K]):
    """A :class:`Queue` whose keys can be added after a delay.

    ``clock`` and ``call_later`` must agree: the defaults are the event
    loop's (time.monotonic and loop.call_later, so :meth:`add_after` must be
    called on the loop); tests pass a fake clock and a timer they fire.
    Keys still waiting when the queue shuts down are dropped, as upstream.
    """

    def __init__(
        self,
        *,
        name: str = "",
        metrics: WorkqueueMetrics | None = None,
        clock: Clock = time.monotonic,
        call_later: CallLater = loop_call_later,
    ) -> None:
        super().__init__(name=name, metrics=metrics, clock=clock)
        self._call_later = call_later
        #: Heap of (ready_at, sequence, key); entries not in _entries are stale.
        self._heap: list[tuple[float, int, K]] = []
        self._entries: dict[K, tuple[float, int, K]] = {}
        self._sequence = itertools.count()
        self._timer: TimerHandle | None = None
        self._timer_due = 0.0

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed (at once if not positive).

        Ignored once shutting down. If ``key`` already waits, the earlier
        ready time wins.
        """
        if self.shutting_down:
            return
        self._metrics.retry()
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock() + delay
        known = self._entries.get(key)
        if known is not None and known[0] <= ready_at:
            return
        entry = (ready_at, next(self._sequence), key)
        self._entries[key] = entry
        heapq.heappush(self._heap, entry)
        self._arm()

    def _stop_accepting(self) -> None:
        super()._stop_accepting()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._entries.clear()

    def _earliest(self) -> float | None:
        """The earliest live ready time, dropping stale heap entries on the way."""
        while self._heap and self._entries.get(self._heap[0][2]) is not self._heap[0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _arm(self) -> None:
        """Have the timer fire at the earliest ready time, re-arming only when it moved up."""
        due = self._earliest()
        if due is None or (self._timer is not None and self._timer_due <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._call_later(max(0.0, due - self._clock()), self._fire)

    def _fire(self) -> None:
        """Add every key whose time has come, then wait for the next one."""
        self._timer = None
        now = self._clock()
        while (due := self._earliest()) is not None and due <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._entries[key]
            self.add(key)
        self._arm()
