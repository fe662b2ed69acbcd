import logging

import pytest

from pynetes.controller import (
    EXPECTATIONS_TIMEOUT,
    Expectations,
    UIDTrackingExpectations,
)
from tests.conftest import FakeClock


def test_a_key_without_expectations_is_satisfied() -> None:
    assert Expectations().satisfied("ns/rs")


def test_creations_are_satisfied_once_all_are_observed() -> None:
    expectations = Expectations(FakeClock())
    expectations.expect_creations("ns/rs", 2)
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")  # an extra event does not unsatisfy
    assert expectations.satisfied("ns/rs")


def test_deletions_are_satisfied_once_all_are_observed() -> None:
    expectations = Expectations(FakeClock())
    expectations.expect_deletions("ns/rs", 1)
    expectations.creation_observed("ns/rs")  # creations were not awaited
    assert not expectations.satisfied("ns/rs")
    expectations.deletion_observed("ns/rs")
    assert expectations.satisfied("ns/rs")


def test_unmet_expectations_expire_after_five_minutes() -> None:
    clock = FakeClock()
    expectations = Expectations(clock)
    expectations.expect_creations("ns/rs", 3)
    clock.advance(EXPECTATIONS_TIMEOUT)
    assert not expectations.satisfied("ns/rs")
    clock.advance(1.0)
    assert expectations.satisfied("ns/rs")
    expectations.expect_creations("ns/rs", 1)  # setting again restarts the time
    assert not expectations.satisfied("ns/rs")


def test_raise_and_lower_adjust_without_restarting_the_time() -> None:
    clock = FakeClock()
    expectations = Expectations(clock)
    expectations.set_expectations("ns/rs", 1, 1)
    clock.advance(EXPECTATIONS_TIMEOUT - 1.0)
    expectations.raise_expectations("ns/rs", 1, 0)
    expectations.lower_expectations("ns/rs", 1, 1)
    assert not expectations.satisfied("ns/rs")  # one creation still awaited
    clock.advance(2.0)
    assert expectations.satisfied("ns/rs")


def test_observations_of_unknown_keys_are_ignored_and_delete_forgets() -> None:
    expectations = Expectations(FakeClock())
    expectations.creation_observed("ns/other")
    expectations.raise_expectations("ns/other", 5, 5)
    assert expectations.satisfied("ns/other")
    expectations.expect_creations("ns/rs", 1)
    expectations.delete_expectations("ns/rs")
    assert expectations.satisfied("ns/rs")


def test_uid_tracking_counts_each_deleted_object_once() -> None:
    tracking = UIDTrackingExpectations(Expectations(FakeClock()))
    tracking.expect_deletions("ns/rs", ["ns/pod-1", "ns/pod-2"])
    assert tracking.deleting("ns/rs") == {"ns/pod-1", "ns/pod-2"}
    tracking.deletion_observed("ns/rs", "ns/pod-1")  # deletionTimestamp set
    tracking.deletion_observed("ns/rs", "ns/pod-1")  # then the delete event
    tracking.deletion_observed("ns/rs", "ns/pod-9")  # not ours
    assert not tracking.satisfied("ns/rs")
    tracking.deletion_observed("ns/rs", "ns/pod-2")
    assert tracking.satisfied("ns/rs")
    assert tracking.deleting("ns/rs") == frozenset()


def test_uid_tracking_creations_and_delete() -> None:
    tracking = UIDTrackingExpectations(Expectations(FakeClock()))
    tracking.expect_creations("ns/rs", 1)
    assert not tracking.satisfied("ns/rs")
    tracking.creation_observed("ns/rs")
    assert tracking.satisfied("ns/rs")
    tracking.expect_deletions("ns/rs", ["ns/pod-1"])
    tracking.delete_expectations("ns/rs")
    assert tracking.satisfied("ns/rs")
    assert tracking.deleting("ns/rs") == frozenset()


def test_uid_tracking_warns_when_replacing_pending_deletions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracking = UIDTrackingExpectations(Expectations(FakeClock()))
    tracking.expect_deletions("ns/rs", ["ns/pod-1"])
    with caplog.at_level(logging.WARNING, logger="pynetes.controller.expectations"):
        tracking.expect_deletions("ns/rs", ["ns/pod-2"])
    assert "Clobbering" in caplog.text
    assert tracking.deleting("ns/rs") == {"ns/pod-2"}
