"""LeaderElector's argument checks, which fail at construction as upstream's NewLeaderElector."""

from __future__ import annotations

import pytest

from pynetes.client.config import ClientConfig
from pynetes.client.leaderelection import LeaderElector
from pynetes.client.rest import ApiClient


async def lead() -> None:
    """Leading work that is never run: these electors are only constructed."""


def elector(identity: str = "me", **timing: float) -> LeaderElector:
    client = ApiClient(ClientConfig(server="http://127.0.0.1:1"))
    return LeaderElector(client, "default", "lock", identity, on_started_leading=lead, **timing)


@pytest.mark.parametrize(
    ("timing", "message"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, "lease_duration .* greater than renew_dea"),
        ({"renew_deadline": 2.4, "retry_period": 2}, r"renew_deadline .* retry_period \* 1.2"),
        (
            {"lease_duration": 0.5, "renew_deadline": 0.3, "retry_period": 0.2},
            "lease_duration must be at least 1 second",
        ),
        ({"retry_period": 0}, "retry_period must be greater than zero"),
        ({"renew_deadline": 0, "retry_period": -1}, "renew_deadline must be greater than zero"),
    ],
)
def test_timings_are_checked_as_upstream(timing, message):
    with pytest.raises(ValueError, match=message):
        elector(**timing)


def test_an_identity_is_required():
    with pytest.raises(ValueError, match="identity must not be empty"):
        elector("")


def test_upstream_defaults_are_valid():
    made = elector()
    assert (made.lease_duration, made.renew_deadline, made.retry_period) == (15.0, 10.0, 2.0)
    assert made.leader == "" and not made.is_leader()
