"""The rate limiting queue: client-go's AddRateLimited on top of the delaying queue."""

from __future__ import annotations

import time

from pynetes.client.flowcontrol import Clock
from pynetes.client.workqueue.delaying import CallLater, DelayingQueue, loop_call_later
from pynetes.client.workqueue.metrics import WorkqueueMetrics
from pynetes.client.workqueue.queue import K
from pynetes.client.workqueue.rate_limiters import RateLimiter, default_controller_rate_limiter


class RateLimitingQueue(DelayingQueue[K]):
    """A :class:`DelayingQueue` that delays retries as ``rate_limiter`` says.

    A worker that failed on a key calls :meth:`add_rate_limited`; once the
    key succeeds it calls :meth:`forget`, or the key's backoff keeps growing.
    The default limiter is :func:`default_controller_rate_limiter` on
    ``clock``.
    """

    def __init__(
        self,
        rate_limiter: RateLimiter | None = None,
        *,
        name: str = "",
        metrics: WorkqueueMetrics | None = None,
        clock: Clock = time.monotonic,
        call_later: CallLater = loop_call_later,
    ) -> None:
        super().__init__(name=name, metrics=metrics, clock=clock, call_later=call_later)
        self.rate_limiter = (
            default_controller_rate_limiter(clock) if rate_limiter is None else rate_limiter
        )

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the wait the rate limiter gives it (one more failure)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts the backoff over."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many times ``key`` has been requeued since it was last forgotten."""
        return self.rate_limiter.num_requeues(key)
