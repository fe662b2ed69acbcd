"""Helpers every test may use."""

from __future__ import annotations

import heapq
import os
import shutil
from collections.abc import Callable

import pytest


def require_tool(name: str) -> str:
    """The path of an executable the test needs.

    Outside CI a missing tool skips the test; in CI (CI=true) it fails it,
    because .ci/run installs everything the suite needs.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require(available: bool, what: str) -> None:
    """Skip the test when ``what`` is not available here, except in CI (CI=true), where
    .ci/run makes it available (root, writable cgroups...) and its absence fails the test."""
    if available:
        return
    message = f"{what} is not available here"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTimer:
    """A ``call_later`` on a FakeClock: callbacks run only inside :meth:`advance`.

    ``advance`` walks the clock to each due callback in turn (earliest first,
    including ones scheduled by the callbacks it runs), then to the target,
    so code under test sees time pass as it would for real.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._pending: list[tuple[float, int, FakeTimerHandle]] = []
        self._scheduled = 0

    def __call__(self, delay: float, callback: Callable[[], None]) -> FakeTimerHandle:
        handle = FakeTimerHandle(callback)
        self._scheduled += 1
        heapq.heappush(self._pending, (self.clock() + delay, self._scheduled, handle))
        return handle

    @property
    def armed(self) -> int:
        """Callbacks scheduled and not cancelled."""
        return sum(1 for _, _, handle in self._pending if not handle.cancelled)

    def advance(self, seconds: float) -> None:
        target = self.clock() + seconds
        while self._pending and self._pending[0][0] <= target:
            due, _, handle = heapq.heappop(self._pending)
            self.clock.now = max(self.clock.now, due)
            if not handle.cancelled:
                handle.callback()
        self.clock.now = target


class FakeTimerHandle:
    """What FakeTimer returns: cancel() keeps the callback from running."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
