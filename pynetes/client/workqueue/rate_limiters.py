"""Rate limiters: how long a key waits before its next try (client-go's workqueue ones).

A limiter answers :meth:`RateLimiter.when` for a key that failed again,
counts the key's failures (:meth:`~RateLimiter.num_requeues`), and forgets
them once the key succeeds. Controllers combine a per-key exponential
backoff with an overall token bucket: one key failing in a loop backs off
alone, and many keys failing at once cannot exceed the bucket's rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from typing import Protocol

from pynetes.client.flowcontrol import Clock, TokenBucket


class RateLimiter(Protocol):
    """client-go's TypedRateLimiter."""

    def when(self, key: Hashable) -> float:
        """Seconds ``key`` should wait now; records another failure of it."""
        ...

    def forget(self, key: Hashable) -> None:
        """Stop tracking ``key``: its next failure counts as the first."""
        ...

    def num_requeues(self, key: Hashable) -> int:
        """How many failures of ``key`` are being tracked."""
        ...


class ItemExponentialFailureRateLimiter:
    """``base_delay * 2**failures`` per key, capped at ``max_delay``.

    The defaults are DefaultControllerRateLimiter's: 5 ms, doubling up to
    1000 s.
    """

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        exponent = self._failures.get(key, 0)
        self._failures[key] = exponent + 1
        try:
            delay = math.ldexp(self.base_delay, exponent)
        except OverflowError:  # past float range: upstream caps past int64 ns likewise
            return self.max_delay
        return min(delay, self.max_delay)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """The overall limit: every try of any key takes a token of ``bucket``.

    It tracks no key, so it never counts requeues and has nothing to forget.
    """

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    def when(self, key: Hashable) -> float:
        return self.bucket.reserve()

    def forget(self, key: Hashable) -> None:
        """Nothing is kept per key."""

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest wait any of ``limiters`` asks for; every one is told of each failure."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        return max([limiter.when(key) for limiter in self.limiters])

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock = time.monotonic) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: per-key 5 ms..1000 s, overall 10 qps burst 100.

    ``clock`` drives the token bucket (inject a fake one in tests).
    """
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(TokenBucket(10.0, 100, clock=clock)),
    )
