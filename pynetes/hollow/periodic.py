"""Periodic per-key work, spread evenly over the period: thousands of kubelets' timers in one.

Every hollow kubelet renews its Lease every 10 s. Five thousand of them
renewing on the same tick would send 5,000 writes at once every 10 s;
:class:`Staggered` gives each key a fixed phase within the period (the
golden-ratio sequence, which spreads any number of keys evenly, however
many come later) and a pool of workers that carry out the keys as they fall
due: a steady trickle of ``keys / period`` writes a second.

A key that fails is tried again after a per-key backoff (the kubelet's
lease controller backs off from 200 ms to 7 s), then falls back into its
phase. Failures are logged at most once per period.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Awaitable, Callable

from pynetes.client import errors
from pynetes.client.retry import Backoff

log = logging.getLogger(__name__)

#: The golden ratio's fractional part: phases k * this (mod 1) never bunch up.
_GOLDEN = (math.sqrt(5) - 1) / 2
#: Keys falling due within this long of each other are handed out together.
MIN_TICK = 0.02

Action = Callable[[str], Awaitable[None]]


def phase(index: int, period: float) -> float:
    """The offset within ``period`` of the ``index``-th key: however many keys there are,
    the first n of them split the period into gaps of at most three sizes (the
    three-distance theorem), none much larger than ``period / n``."""
    return (index * _GOLDEN) % 1.0 * period


class Staggered:
    """Calls ``action(key)`` for each key once per ``period``, keys spread across it.

    :meth:`add` a key to run it at once (registration) or at its phase.
    At most ``workers`` actions run at a time. :meth:`run` until cancelled;
    an action that raises never ends it.
    """

    def __init__(
        self,
        name: str,
        action: Action,
        period: float,
        *,
        workers: int = 32,
        backoff: Backoff | None = None,
    ) -> None:
        if period <= 0 or workers < 1:
            raise ValueError(f"{name}: period must be > 0 and workers >= 1")
        self.name = name
        self.period = period
        self.workers = workers
        self._action = action
        self._backoff = backoff or Backoff(initial=0.2, cap=7.0)
        self._phases: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._failures: dict[str, int] = {}
        self._origin: float | None = None
        self._warned_at = -math.inf
        #: Actions that succeeded / failed so far.
        self.completed = 0
        self.failed = 0

    def add(self, key: str, *, now: bool = True) -> None:
        """Start running ``key``: at once (``now``), else at its phase's next slot."""
        if key in self._phases:
            return
        self._phases[key] = phase(len(self._phases), self.period)
        self._schedule(key, self._clock() if now else self._next_slot(key, self._clock()))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for index in range(self.workers):
                group.create_task(self._work(), name=f"{self.name} worker {index}")
            await self._dispatch()

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _clock() -> float:
        return asyncio.get_running_loop().time()

    def _next_slot(self, key: str, after: float) -> float:
        """The first time after ``after`` that is ``key``'s phase within a period."""
        if self._origin is None:
            self._origin = after
        start = self._origin + self._phases[key]
        return start + self.period * max(0, math.ceil((after - start) / self.period))

    def _schedule(self, key: str, due: float) -> None:
        """Each key is in the heap once: when added, then after each attempt."""
        heapq.heappush(self._heap, (due, key))
        self._wake.set()

    async def _dispatch(self) -> None:
        """Hand keys to the workers as they fall due; sleep until the next one."""
        while True:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now + MIN_TICK:
                self._ready.put_nowait(heapq.heappop(self._heap)[1])
            self._wake.clear()
            wait = self._heap[0][0] - now if self._heap else None
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _work(self) -> None:
        while True:
            await self._attempt(await self._ready.get())

    async def _attempt(self, key: str) -> None:
        try:
            await self._action(key)
        except Exception as error:
            self.failed += 1
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            self._warn(key, error)
            self._schedule(key, self._clock() + self._backoff.delay(failures))
            return
        self.completed += 1
        self._failures.pop(key, None)
        # At least half a period on, so a late first run does not renew twice in a row.
        self._schedule(key, self._next_slot(key, self._clock() + self.period / 2))

    def _warn(self, key: str, error: Exception) -> None:
        if not isinstance(error, errors.ApiError | errors.TransportError):
            log.error("%s %s failed", self.name, key, exc_info=error)  # a bug: always loud
            return
        now = self._clock()
        if now - self._warned_at < self.period:
            log.debug("%s %s failed: %s", self.name, key, error)
            return
        self._warned_at = now
        failing = len(self._failures)
        log.warning("%s %s failed (%d keys failing): %s", self.name, key, failing, error)
