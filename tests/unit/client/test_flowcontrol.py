import pytest

from pynetes.client.flowcontrol import TokenBucket
from tests.conftest import FakeClock


def test_a_full_bucket_gives_its_burst_at_once_then_paces_at_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)  # owed tokens queue up


def test_tokens_come_back_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 2, clock=clock)
    assert bucket.try_take() and bucket.try_take()
    assert not bucket.try_take()
    clock.advance(0.5)
    assert bucket.try_take()
    clock.advance(100)
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


async def test_wait_sleeps_for_the_token_it_owes() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    bucket = TokenBucket(5.0, 1, clock=clock, sleep=sleep)
    await bucket.wait()
    await bucket.wait()
    assert slept == [pytest.approx(0.2)]


def test_a_bucket_without_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match="qps > 0"):
        TokenBucket(0, 1)
