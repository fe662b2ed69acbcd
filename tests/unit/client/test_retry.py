"""Which failures are retried, and how long the client waits before trying again."""

from __future__ import annotations

import pytest

from pynetes.client import errors
from pynetes.client.retry import Backoff, RetryPolicy


def api_error(code: int, reason: str, retry_after: int | None = None) -> errors.ApiError:
    return errors.from_status({"code": code, "reason": reason}, retry_after=retry_after)


NO_JITTER = Backoff(initial=0.5, factor=2.0, cap=4.0, jitter=0.5, random=lambda: 0.0)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [NO_JITTER.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_jitter_stretches_a_delay_by_up_to_its_fraction() -> None:
    full = Backoff(initial=2.0, jitter=0.5, random=lambda: 1.0)
    assert full.delay(1) == 3.0


@pytest.mark.parametrize(
    "error",
    [
        errors.TransportError("connection refused"),
        api_error(429, "TooManyRequests"),
        api_error(500, "InternalError"),
        api_error(503, "ServiceUnavailable"),
        api_error(504, "Timeout"),
    ],
)
def test_safe_requests_are_retried_after_transient_failures(error) -> None:
    policy = RetryPolicy(attempts=3, backoff=NO_JITTER)
    assert policy.delay("GET", 1, error) == 0.5
    assert policy.delay("GET", 2, error) == 1.0
    assert policy.delay("GET", 3, error) is None  # the attempts are spent


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_requests_that_could_act_twice_are_not_retried(method) -> None:
    policy = RetryPolicy(backoff=NO_JITTER)
    assert policy.delay(method, 1, errors.TransportError("reset")) is None
    assert policy.delay(method, 1, api_error(503, "ServiceUnavailable")) is None


@pytest.mark.parametrize(
    "error",
    [api_error(404, "NotFound"), api_error(410, "Expired"), api_error(403, "Forbidden")],
)
def test_answers_about_the_request_itself_are_final(error) -> None:
    assert RetryPolicy().delay("GET", 1, error) is None


def test_retry_after_is_waited_out_at_least() -> None:
    policy = RetryPolicy(backoff=NO_JITTER)
    assert policy.delay("GET", 1, api_error(429, "TooManyRequests", retry_after=5)) == 5.0
    # a backoff longer than Retry-After wins
    assert policy.delay("GET", 4, api_error(503, "ServiceUnavailable", retry_after=1)) == 4.0
