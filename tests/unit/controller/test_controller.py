import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable

import pytest

from pynetes.client.workqueue import RateLimitingQueue
from pynetes.controller import Controller, Reconcile, Result
from tests.conftest import FakeClock, FakeTimer


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds; fail if it never does."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Harness:
    """A controller on a fake clock whose reconcile answers from a script per key."""

    def __init__(self, reconcile: Reconcile | None = None, workers: int = 2) -> None:
        self.clock = FakeClock()
        self.timer = FakeTimer(self.clock)
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(
            clock=self.clock, call_later=self.timer
        )
        self.calls: list[str] = []
        self.running = 0
        self.script: dict[str, list[Result | Exception]] = {}
        self.controller = Controller(
            "test", reconcile or self.reconcile, workers=workers, queue=self.queue
        )
        self.task: asyncio.Task[None] | None = None

    async def reconcile(self, key: str) -> Result:
        self.calls.append(key)
        self.running += 1
        try:
            await asyncio.sleep(0)  # a real reconcile awaits the API
            outcome = self.script[key].pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        finally:
            self.running -= 1

    def start(self) -> None:
        self.task = asyncio.create_task(self.controller.run())

    async def idle(self) -> None:
        """Wait until no key is waiting or being reconciled.

        A key leaves the queue and enters reconcile in one step, and is
        requeued and done in the step reconcile returns in, so this is when
        every worker is waiting on the queue.
        """
        await until(lambda: len(self.queue) == 0 and self.running == 0)

    async def stop(self) -> None:
        self.controller.stop()
        assert self.task is not None
        await self.task


async def test_done_forgets_the_key_and_does_not_requeue() -> None:
    harness = Harness()
    harness.script["ns/a"] = [Result()]
    harness.start()
    harness.queue.add("ns/a")
    await harness.idle()
    harness.timer.advance(3600.0)
    await harness.idle()
    assert harness.calls == ["ns/a"]
    assert harness.queue.num_requeues("ns/a") == 0
    await harness.stop()


async def test_retry_requeues_with_growing_backoff_until_done() -> None:
    harness = Harness()
    harness.script["ns/a"] = [Result(requeue=True), Result(requeue=True), Result()]
    harness.start()
    harness.queue.add("ns/a")
    await harness.idle()
    assert harness.queue.num_requeues("ns/a") == 1
    harness.timer.advance(0.004)
    await harness.idle()
    assert harness.calls == ["ns/a"]  # 5 ms have not passed
    harness.timer.advance(0.002)
    await until(lambda: len(harness.calls) == 2)
    await harness.idle()
    assert harness.queue.num_requeues("ns/a") == 2
    harness.timer.advance(0.008)
    await harness.idle()
    assert len(harness.calls) == 2  # the second backoff is 10 ms
    harness.timer.advance(0.003)
    await until(lambda: len(harness.calls) == 3)
    await harness.idle()
    assert harness.queue.num_requeues("ns/a") == 0  # done forgot the backoff
    await harness.stop()


async def test_requeue_after_comes_back_at_that_time_and_forgets_the_backoff() -> None:
    harness = Harness()
    harness.script["ns/a"] = [Result(requeue=True), Result(requeue_after=30.0), Result()]
    harness.start()
    harness.queue.add("ns/a")
    await harness.idle()
    harness.timer.advance(0.01)
    await until(lambda: len(harness.calls) == 2)
    await harness.idle()
    assert harness.queue.num_requeues("ns/a") == 0
    harness.timer.advance(29.0)
    await harness.idle()
    assert len(harness.calls) == 2
    harness.timer.advance(1.0)
    await until(lambda: len(harness.calls) == 3)
    await harness.stop()


async def test_an_exception_is_logged_and_retried_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness(workers=1)
    harness.script["ns/a"] = [RuntimeError("boom"), RuntimeError("boom"), Result()]
    harness.script["ns/b"] = [Result()]
    harness.start()
    with caplog.at_level(logging.ERROR, logger="pynetes.controller.controller"):
        harness.queue.add("ns/a")
        await harness.idle()
        harness.queue.add("ns/b")  # the one worker survived the exception
        await until(lambda: harness.calls == ["ns/a", "ns/b"])
        assert harness.queue.num_requeues("ns/a") == 1
        harness.timer.advance(0.006)
        await until(lambda: len(harness.calls) == 3)
        await harness.idle()
        assert harness.queue.num_requeues("ns/a") == 2
        harness.timer.advance(0.011)
        await until(lambda: len(harness.calls) == 4)
    errors = [r for r in caplog.records if "Reconciler error" in r.getMessage()]
    assert len(errors) == 2
    assert all("ns/a" in r.getMessage() for r in errors)
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in errors)
    await harness.stop()


async def test_workers_never_share_a_key() -> None:
    held: set[str] = set()
    most_held = 0
    reconciled: Counter[str] = Counter()
    rng = random.Random(8)

    async def reconcile(key: str) -> Result:
        nonlocal most_held
        assert key not in held, f"{key} reconciled by two workers at once"
        held.add(key)
        most_held = max(most_held, len(held))
        for _ in range(rng.randrange(1, 5)):
            await asyncio.sleep(0)
        held.remove(key)
        reconciled[key] += 1
        return Result()

    harness = Harness(reconcile, workers=8)
    harness.start()
    keys = [f"ns/{name}" for name in "abcde"]
    for _ in range(500):
        harness.queue.add(rng.choice(keys))
        await asyncio.sleep(0)
    await harness.stop()
    assert most_held > 1
    assert set(reconciled) == set(keys)


async def test_stop_lets_held_and_waiting_keys_finish() -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: str) -> Result:
        await release.wait()
        finished.append(key)
        return Result()

    harness = Harness(reconcile, workers=1)
    harness.start()
    harness.queue.add("ns/a")
    harness.queue.add("ns/b")
    await until(lambda: len(harness.queue) == 1)  # a is held, b waits
    harness.controller.stop()
    harness.queue.add("ns/c")  # refused: stopping
    release.set()
    assert harness.task is not None
    await harness.task
    assert finished == ["ns/a", "ns/b"]


async def test_cancelling_run_cancels_reconciles_and_releases_their_keys() -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def reconcile(key: str) -> Result:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        return Result()

    harness = Harness(reconcile, workers=3)
    harness.start()
    harness.queue.add("ns/a")
    await started.wait()
    assert harness.task is not None
    harness.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await harness.task
    assert cancelled == ["ns/a"]
    assert harness.queue.shutting_down
    drain = asyncio.create_task(harness.queue.shut_down_with_drain())
    await asyncio.sleep(0)
    assert drain.done()  # no key is left held


def test_a_controller_needs_a_worker() -> None:
    async def reconcile(key: str) -> Result:
        return Result()

    with pytest.raises(ValueError, match="at least one worker"):
        Controller("test", reconcile, workers=0)
