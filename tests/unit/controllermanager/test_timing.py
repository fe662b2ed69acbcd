"""Periods and deadlines on a clock a test moves by hand."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from pynetes.controllermanager.timing import every, sleep_until
from tests.conftest import FakeClock


async def test_a_deadline_is_met_once_the_clock_is_moved_past_it() -> None:
    clock = FakeClock(0.0)
    waiting = asyncio.create_task(sleep_until(clock, 300.0))
    await asyncio.sleep(0.15)
    assert not waiting.done()
    clock.advance(300)
    async with asyncio.timeout(5):
        await waiting


async def test_runs_come_each_period_and_a_failing_one_does_not_stop_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(0.0)
    runs: list[float] = []
    started = asyncio.Event()

    async def action() -> None:
        runs.append(clock())
        started.set()
        if len(runs) == 1:
            raise RuntimeError("a bad run")

    periodic = asyncio.create_task(every(clock, 20.0, action))
    async with asyncio.timeout(5):
        await started.wait()  # the first run comes at once
        while len(runs) < 3:
            clock.advance(10)
            await asyncio.sleep(0.11)
    periodic.cancel()
    assert runs[0] == 0.0
    assert all(later - earlier >= 20.0 for earlier, later in itertools.pairwise(runs))
    assert "a periodic run failed" in caplog.text
