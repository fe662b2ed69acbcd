import asyncio
import random
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry

from pynetes.client.flowcontrol import TokenBucket
from pynetes.client.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    Queue,
    RateLimitingQueue,
    WorkqueueMetrics,
    default_controller_rate_limiter,
)
from tests.conftest import FakeClock, FakeTimer


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(10):
        await asyncio.sleep(0)


async def take_waiting(queue: Queue[str]) -> list[str]:
    """Take every waiting key without blocking, marking each done."""
    keys = []
    while len(queue):
        key = await queue.get()
        assert key is not None
        queue.done(key)
        keys.append(key)
    return keys


# -- the basic queue -------------------------------------------------------------------------


async def test_keys_come_out_in_order_and_once_while_waiting() -> None:
    queue: Queue[str] = Queue()
    for key in ["a", "b", "a", "c", "b"]:
        queue.add(key)
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]
    assert len(queue) == 0


async def test_a_key_added_while_held_waits_for_done() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # not handed to a second worker while the first holds it
    queue.done("a")
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0  # the two re-adds made one more pass, not two


async def test_done_without_a_re_add_does_not_requeue() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    await queue.get()
    queue.done("a")
    assert len(queue) == 0


async def test_a_blocked_getter_wakes_on_add() -> None:
    queue: Queue[str] = Queue()
    getter = asyncio.create_task(queue.get())
    await settle()
    assert not getter.done()
    queue.add("a")
    assert await getter == "a"


async def test_a_cancelled_getter_passes_its_wake_up_on() -> None:
    queue: Queue[str] = Queue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await settle()
    queue.add("a")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs
    await settle()
    assert first.cancelled()
    assert second.done() and second.result() == "a"


async def test_sixteen_workers_never_share_a_key_and_every_later_add_is_processed() -> None:
    queue: Queue[str] = Queue()
    keys = ["a", "b", "c", "d"]
    rng = random.Random(4)
    held: set[str] = set()
    expected: Counter[str] = Counter()
    processed: Counter[str] = Counter()
    pending = dict.fromkeys(keys, False)  # an add not yet followed by a take
    most_held = 0

    def add(key: str) -> None:
        if not pending[key]:
            pending[key] = True
            expected[key] += 1
        queue.add(key)

    async def worker() -> None:
        nonlocal most_held
        while (key := await queue.get()) is not None:
            pending[key] = False
            assert key not in held, f"{key} handed to two workers"
            held.add(key)
            most_held = max(most_held, len(held))
            processed[key] += 1
            for _ in range(rng.randrange(1, 6)):
                await asyncio.sleep(0)
            held.remove(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(16)]
    for _ in range(2000):
        add(rng.choice(keys))
        if rng.random() < 0.5:
            await asyncio.sleep(0)
    queue.shut_down()
    await asyncio.gather(*workers)

    assert processed == expected
    assert not any(pending.values())
    assert most_held > 1  # the workers did run side by side


# -- shutdown --------------------------------------------------------------------------------


async def test_shut_down_wakes_every_blocked_getter() -> None:
    queue: Queue[str] = Queue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    queue.shut_down()
    assert await asyncio.gather(*getters) == [None, None, None]
    assert queue.shutting_down


async def test_after_shut_down_waiting_keys_come_out_first_and_adds_are_ignored() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    queue.add("b")
    queue.shut_down()
    queue.add("c")
    assert [await queue.get(), await queue.get(), await queue.get()] == ["a", "b", None]


async def test_a_key_re_added_before_shut_down_is_still_handed_out_after_done() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    await queue.get()
    queue.add("a")
    queue.shut_down()
    queue.done("a")
    assert await queue.get() == "a"


async def test_shut_down_with_drain_waits_for_held_keys() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    queue.add("b")
    await queue.get()
    await queue.get()
    drain = asyncio.create_task(queue.shut_down_with_drain())
    await settle()
    queue.done("a")
    await settle()
    assert not drain.done()
    queue.done("b")
    await drain


async def test_shut_down_ends_a_drain_wait() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    await queue.get()
    drain = asyncio.create_task(queue.shut_down_with_drain())
    await settle()
    assert not drain.done()
    queue.shut_down()
    await drain


async def test_shut_down_with_drain_returns_at_once_when_nothing_is_held() -> None:
    queue: Queue[str] = Queue()
    queue.add("a")
    await queue.shut_down_with_drain()
    assert await queue.get() == "a"  # waiting keys are not dropped


# -- the delaying queue ----------------------------------------------------------------------


def delaying(clock: FakeClock) -> tuple[DelayingQueue[str], FakeTimer]:
    timer = FakeTimer(clock)
    return DelayingQueue(clock=clock, call_later=timer), timer


async def test_delayed_keys_are_added_in_ready_time_order() -> None:
    queue, timer = delaying(FakeClock())
    queue.add_after("c", 3.0)
    queue.add_after("a", 1.0)
    queue.add_after("b", 2.0)
    timer.advance(0.5)
    assert len(queue) == 0
    timer.advance(0.5)
    assert await take_waiting(queue) == ["a"]
    timer.advance(5.0)
    assert await take_waiting(queue) == ["b", "c"]
    assert timer.armed == 0


async def test_the_earlier_ready_time_wins_for_a_key_added_twice() -> None:
    queue, timer = delaying(FakeClock())
    queue.add_after("a", 5.0)
    queue.add_after("a", 2.0)
    queue.add_after("a", 10.0)
    timer.advance(2.0)
    assert await take_waiting(queue) == ["a"]
    timer.advance(10.0)
    assert len(queue) == 0  # the 5 s and 10 s requests were folded into the 2 s one


async def test_a_sooner_key_re_arms_the_timer() -> None:
    queue, timer = delaying(FakeClock())
    queue.add_after("late", 60.0)
    queue.add_after("soon", 1.0)
    assert timer.armed == 1
    timer.advance(1.0)
    assert await take_waiting(queue) == ["soon"]
    timer.advance(59.0)
    assert await take_waiting(queue) == ["late"]


async def test_no_delay_adds_at_once() -> None:
    queue, timer = delaying(FakeClock())
    queue.add_after("a", 0.0)
    queue.add_after("b", -1.0)
    assert await take_waiting(queue) == ["a", "b"]
    assert timer.armed == 0


async def test_shut_down_drops_waiting_keys_and_refuses_new_ones() -> None:
    queue, timer = delaying(FakeClock())
    queue.add_after("a", 1.0)
    queue.shut_down()
    queue.add_after("b", 1.0)
    assert timer.armed == 0
    timer.advance(5.0)
    assert await queue.get() is None


async def test_the_default_timer_is_the_event_loop() -> None:
    queue: DelayingQueue[str] = DelayingQueue()
    queue.add_after("a", 0.001)
    assert await queue.get() == "a"


# -- rate limiters ---------------------------------------------------------------------------


def test_exponential_backoff_doubles_per_failure_and_forget_resets_it() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    assert [limiter.when("a") for _ in range(5)] == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08])
    assert limiter.when("b") == pytest.approx(0.005)  # per key
    assert limiter.num_requeues("a") == 5
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(0.005)


def test_exponential_backoff_is_capped_even_past_float_range() -> None:
    limiter = ItemExponentialFailureRateLimiter(1.0, 10.0)
    assert [limiter.when("a") for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    for _ in range(1100):
        limiter.when("a")
    assert limiter.when("a") == 10.0


def test_the_default_backoff_is_capped_at_1000_seconds() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[-1] == 1000.0
    assert delays[17] == pytest.approx(0.005 * 2**17)


def test_the_bucket_limiter_delays_every_key_past_the_burst() -> None:
    clock = FakeClock()
    limiter = BucketRateLimiter(TokenBucket(10.0, 100, clock=clock))
    assert all(limiter.when(f"key-{i}") == 0.0 for i in range(100))
    assert limiter.when("x") == pytest.approx(0.1)
    assert limiter.when("y") == pytest.approx(0.2)
    assert limiter.num_requeues("x") == 0
    clock.advance(10.0)
    assert limiter.when("z") == 0.0


def test_max_of_takes_the_longest_wait_and_tells_every_limiter() -> None:
    clock = FakeClock()
    slow = ItemExponentialFailureRateLimiter(1.0, 100.0)
    limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        slow,
        BucketRateLimiter(TokenBucket(1.0, 1, clock=clock)),
    )
    assert limiter.when("a") == 1.0
    assert limiter.when("a") == pytest.approx(2.0)
    assert limiter.when("b") == pytest.approx(2.0)  # the bucket owes two tokens now
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert slow.num_requeues("a") == 0


def test_default_controller_rate_limiter_is_per_key_backoff_under_an_overall_bucket() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    for i in range(97):
        limiter.when(f"key-{i}")
    # the 101st try within the same instant waits for the 10 qps bucket
    assert limiter.when("b") == pytest.approx(0.1)


# -- the rate limiting queue -----------------------------------------------------------------


async def test_add_rate_limited_waits_out_the_backoff() -> None:
    clock = FakeClock()
    timer = FakeTimer(clock)
    queue: RateLimitingQueue[str] = RateLimitingQueue(clock=clock, call_later=timer)
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")  # 10 ms, but the 5 ms wait is earlier and wins
    assert queue.num_requeues("a") == 2
    timer.advance(0.004)
    assert len(queue) == 0
    timer.advance(0.002)
    assert await take_waiting(queue) == ["a"]
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    queue.add_rate_limited("a")
    timer.advance(0.005)
    assert await take_waiting(queue) == ["a"]


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_follow_keys_under_upstream_names() -> None:
    registry = CollectorRegistry()
    clock = FakeClock()
    timer = FakeTimer(clock)
    metrics = WorkqueueMetrics(registry)
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        name="deployment", metrics=metrics, clock=clock, call_later=timer
    )

    def sample(name: str) -> float | None:
        return registry.get_sample_value(name, {"name": "deployment"})

    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert sample("workqueue_adds_total") == 2
    assert sample("workqueue_depth") == 2
    clock.advance(1.0)
    await queue.get()
    assert sample("workqueue_depth") == 1
    assert sample("workqueue_queue_duration_seconds_sum") == 1.0
    clock.advance(2.0)
    await queue.get()
    clock.advance(1.0)
    assert sample("workqueue_unfinished_work_seconds") == 4.0  # 3 s of a, 1 s of b
    assert sample("workqueue_longest_running_processor_seconds") == 3.0
    queue.done("a")
    assert sample("workqueue_work_duration_seconds_sum") == 3.0
    assert sample("workqueue_work_duration_seconds_count") == 1
    queue.add_rate_limited("c")
    assert sample("workqueue_retries_total") == 1


def test_an_unnamed_queue_is_not_measured() -> None:
    registry = CollectorRegistry()
    queue: Queue[str] = Queue(metrics=WorkqueueMetrics(registry))
    queue.add("a")
    assert registry.get_sample_value("workqueue_adds_total", {"name": ""}) is None
