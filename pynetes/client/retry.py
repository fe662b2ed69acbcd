"""When a failed request is tried again, and after how long.

Only safe verbs are retried (GET, which also opens watches): a POST, PUT,
PATCH or DELETE whose connection broke may have been carried out, and
repeating it could act twice. A safe request is retried after a broken or
refused connection, a 429, or a 5xx, a bounded number of times, with
exponential backoff and jitter so that many clients failing together do not
come back together; a ``Retry-After`` the server sent is waited out at least.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pynetes.client import errors

SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Backoff:
    """Delays that grow by ``factor`` from ``initial`` up to ``cap`` seconds.

    Each is stretched by up to ``jitter`` of itself at random (client-go's
    ``wait.Jitter``). ``random`` is injectable for tests.
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1 for the first)."""
        base = min(self.cap, self.initial * self.factor ** max(failures - 1, 0))
        return base + base * self.jitter * self.random()


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a request is tried in all (``attempts`` >= 1), and how far apart."""

    attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)

    def delay(self, method: str, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before trying again after ``attempt`` failed with ``error``;
        None when the request must not be tried again."""
        if attempt >= self.attempts or not retriable(method, error):
            return None
        wait = self.backoff.delay(attempt)
        if isinstance(error, errors.ApiError) and error.retry_after is not None:
            wait = max(wait, float(error.retry_after))
        return wait


def retriable(method: str, error: Exception) -> bool:
    """Whether a request with ``method`` that failed with ``error`` may be sent again."""
    if method not in SAFE_METHODS:
        return False
    if isinstance(error, errors.TransportError):
        return True
    return isinstance(error, errors.ApiError) and transient(error)


def transient(error: errors.ApiError) -> bool:
    """A server error that says nothing about the request itself: 429 and 5xx."""
    return error.code == 429 or 500 <= error.code <= 599
