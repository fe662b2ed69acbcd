"""The scheduling queue, as upstream's PriorityQueue.

* activeQ: pods ready to be tried, ordered by the QueueSort plugin (PrioritySort:
  priority, then the time they were queued);
* backoffQ: pods that failed recently and wait out their backoff,
  ``initial * 2**(attempts-1)`` capped at ``max`` (1 s .. 10 s by default);
* unschedulablePods: pods no node could take. A cluster event that could make
  one fit (a plugin that rejected it registered for that kind of event) moves
  it to backoffQ, or straight to activeQ if its backoff is over; after 5
  minutes parked a pod is retried anyway, as upstream's leftover flush.

Every wait is a timer at the moment something becomes due, and :meth:`pop`
sleeps on an event: the queue never polls. A pod that fails while a move
event arrived during its attempt goes to backoffQ rather than being parked,
so the event is not lost (upstream's moveRequestCycle).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pynetes.scheduler.framework.interface import ClusterEvent
from pynetes.scheduler.framework.node_info import pod_key
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo

Object = dict[str, Any]
Clock = Callable[[], float]
Less = Callable[[QueuedPodInfo, QueuedPodInfo], bool]

#: Upstream's DefaultPodMaxInUnschedulablePodsDuration.
MAX_IN_UNSCHEDULABLE = 300.0

ACTIVE = "active"
BACKOFF = "backoff"
UNSCHEDULABLE = "unschedulable"


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], TimerHandle]


@dataclass
class _Entry:
    """A heap slot; ``removed`` marks slots left behind by deletes and updates."""

    info: QueuedPodInfo
    less: Less
    removed: bool = False

    def __lt__(self, other: _Entry) -> bool:
        return self.less(self.info, other.info)


@dataclass
class _Waiting:
    """A pod in backoffQ or unschedulablePods, with the timer that moves it on."""

    info: QueuedPodInfo
    timer: TimerHandle | None = None


class SchedulingQueue:
    """Pods waiting to be scheduled; see the module's docstring.

    ``events`` maps plugin names to the cluster events they registered;
    ``clock`` (monotonic) and ``call_later`` drive backoffs and flushes.
    """

    def __init__(
        self,
        less: Less,
        events: dict[str, list[ClusterEvent]],
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE,
        clock: Clock = time.monotonic,
        call_later: CallLater | None = None,
    ) -> None:
        self._less = less
        self._events = events
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_in_unschedulable = max_in_unschedulable
        self._clock = clock
        self._call_later: CallLater = call_later or asyncio.get_running_loop().call_later
        self._heap: list[_Entry] = []
        self._active: dict[str, _Entry] = {}
        self._backoff: dict[str, _Waiting] = {}
        self._unschedulable: dict[str, _Waiting] = {}
        self._in_flight: set[str] = set()
        self._ready = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # -- what informers tell it ----------------------------------------------

    def add(self, pod: Object) -> None:
        """A new pending pod: straight to activeQ (unless already queued)."""
        key = pod_key(pod)
        if key in self._active or key in self._backoff or key in self._unschedulable:
            return
        self._push(QueuedPodInfo(pod, self._clock()))

    def update(self, pod: Object) -> None:
        """A queued pod changed: keep its place, but a parked pod is tried again
        (the change may be what it needed), after its backoff."""
        key = pod_key(pod)
        if key in self._active:
            self._active[key].info.pod = pod
        elif key in self._backoff:
            self._backoff[key].info.pod = pod
        elif key in self._unschedulable:
            waiting = self._unschedulable.pop(key)
            _cancel(waiting)
            waiting.info.pod = pod
            self._requeue(waiting.info)
        elif key not in self._in_flight:
            self.add(pod)

    def delete(self, pod: Object) -> None:
        """The pod is gone or was bound by someone else: forget it everywhere."""
        key = pod_key(pod)
        entry = self._active.pop(key, None)
        if entry is not None:
            entry.removed = True
        for parked in (self._backoff, self._unschedulable):
            waiting = parked.pop(key, None)
            if waiting is not None:
                _cancel(waiting)

    def move_on(self, event: ClusterEvent) -> None:
        """Something changed in the cluster: retry the parked pods it could help."""
        self._move_request_cycle = self.scheduling_cycle
        interested = {
            name
            for name, registered in self._events.items()
            if any(event.matches(wanted) for wanted in registered)
        }
        for key, waiting in list(self._unschedulable.items()):
            rejecting = waiting.info.unschedulable_plugins
            if not rejecting or rejecting & interested:
                del self._unschedulable[key]
                _cancel(waiting)
                self._requeue(waiting.info)

    # -- what the scheduling loop does ---------------------------------------

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to try (waiting for one); None once closed."""
        while True:
            if self._closed:
                return None
            while self._heap:
                entry = heapq.heappop(self._heap)
                if entry.removed:
                    continue
                info = entry.info
                del self._active[info.key]
                self.scheduling_cycle += 1
                info.attempts += 1
                if info.initial_attempt_timestamp is None:
                    info.initial_attempt_timestamp = self._clock()
                self._in_flight.add(info.key)
                return info
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: str) -> None:
        """The attempt at ``key`` is over (bound, requeued or abandoned)."""
        self._in_flight.discard(key)

    def add_unschedulable(self, info: QueuedPodInfo, cycle: int, *, error: bool = False) -> None:
        """Put back a pod whose attempt in ``cycle`` failed: an error or a move
        event during the attempt sends it to backoff; otherwise it is parked."""
        self._in_flight.discard(info.key)
        info.timestamp = self._clock()
        if error or self._move_request_cycle >= cycle:
            self._requeue(info)
            return
        timer = self._call_later(self._max_in_unschedulable, lambda: self._flush_leftover(info.key))
        self._unschedulable[info.key] = _Waiting(info, timer)

    def close(self) -> None:
        self._closed = True
        self._ready.set()
        for waiting in [*self._backoff.values(), *self._unschedulable.values()]:
            _cancel(waiting)

    def pending(self) -> dict[str, int]:
        """Pods per sub-queue, for scheduler_pending_pods."""
        return {
            ACTIVE: len(self._active),
            BACKOFF: len(self._backoff),
            UNSCHEDULABLE: len(self._unschedulable),
        }

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        exponent = max(info.attempts - 1, 0)
        return min(self._initial_backoff * 2**exponent, self._max_backoff)

    # -- internals -----------------------------------------------------------

    def _push(self, info: QueuedPodInfo) -> None:
        entry = _Entry(info, self._less)
        self._active[info.key] = entry
        heapq.heappush(self._heap, entry)
        self._ready.set()

    def _requeue(self, info: QueuedPodInfo) -> None:
        """To activeQ if the pod's backoff is over, else to backoffQ until it is."""
        remaining = info.timestamp + self.backoff_duration(info) - self._clock()
        if info.attempts == 0 or remaining <= 0:
            self._push(info)
            return
        timer = self._call_later(remaining, lambda: self._backoff_done(info.key))
        self._backoff[info.key] = _Waiting(info, timer)

    def _backoff_done(self, key: str) -> None:
        waiting = self._backoff.pop(key, None)
        if waiting is not None:
            self._push(waiting.info)

    def _flush_leftover(self, key: str) -> None:
        waiting = self._unschedulable.pop(key, None)
        if waiting is not None:
            self._requeue(waiting.info)


def _cancel(waiting: _Waiting) -> None:
    if waiting.timer is not None:
        waiting.timer.cancel()
