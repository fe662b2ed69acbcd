"""Token buckets: client-go's flowcontrol rate limiter, shared by the REST client
(``--kube-api-qps`` / ``--kube-api-burst``) and the work queue's overall limiter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up; the bucket starts full.

    :meth:`reserve` takes a token now and tells how long its holder must
    wait for it (tokens may be owed: the wait grows with the queue), which
    is what both callers need: the REST client waits, the work queue delays
    an item by it. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs qps > 0 and burst >= 1, not {qps}, {burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.qps)
        self._updated = now

    def reserve(self) -> float:
        """Take a token; the seconds until it is due (0 when one was saved up)."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def try_take(self) -> bool:
        """Take a token if one is there now, without owing one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def wait(self) -> None:
        """Wait for a token."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
