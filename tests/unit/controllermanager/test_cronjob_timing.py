"""Which scheduled time a CronJob owes, and when its controller looks again."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pytest

from pynetes.api.cron import parse_standard
from pynetes.controllermanager.controllers.cronjob.controller import rfc3339_in
from pynetes.controllermanager.controllers.cronjob.timing import (
    NEXT_SCHEDULE_DELTA,
    Missed,
    ScheduleNeverFires,
    most_recent_schedule_time,
    requeue_after,
)

HOUR = 3600.0
#: 2024-05-01T00:00:00Z, a whole hour.
START = datetime.fromisoformat("2024-05-01T00:00:00+00:00").timestamp()
HOURLY = parse_standard("0 * * * *")


def test_nothing_is_due_before_the_first_time() -> None:
    unmet = most_recent_schedule_time(HOURLY, START, START + HOUR - 1, None)
    assert (unmet.most_recent, unmet.missed) == (None, Missed.NONE)


def test_the_first_time_is_due_once_reached() -> None:
    unmet = most_recent_schedule_time(HOURLY, START, START + HOUR, None)
    assert (unmet.most_recent, unmet.missed) == (START + HOUR, Missed.NONE)


def test_several_missed_times_give_the_latest_one() -> None:
    unmet = most_recent_schedule_time(HOURLY, START, START + 5 * HOUR + 10, None)
    assert (unmet.most_recent, unmet.missed) == (START + 5 * HOUR, Missed.FEW)


def test_more_than_a_hundred_missed_times_are_many() -> None:
    unmet = most_recent_schedule_time(HOURLY, START, START + 101 * HOUR + 1, None)
    assert (unmet.most_recent, unmet.missed) == (START + 101 * HOUR, Missed.MANY)
    unmet = most_recent_schedule_time(HOURLY, START, START + 100 * HOUR + 1, None)
    assert unmet.missed is Missed.FEW


def test_irregular_schedules_still_find_their_latest_time() -> None:
    # weekday mornings at 6:30, 10:30, 14:30: intervals of 4 h and of 16 h
    schedule = parse_standard("30 6-16/4 * * 1-5")
    wednesday = datetime.fromisoformat("2024-05-01T00:00:00+00:00").timestamp()
    now = datetime.fromisoformat("2024-05-06T11:00:00+00:00").timestamp()  # Monday
    unmet = most_recent_schedule_time(schedule, wednesday, now, None)
    assert unmet.most_recent == datetime.fromisoformat("2024-05-06T10:30:00+00:00").timestamp()


def test_a_starting_deadline_forgets_times_older_than_it() -> None:
    unmet = most_recent_schedule_time(HOURLY, START, START + HOUR + 30, 10)
    assert unmet.most_recent is None
    unmet = most_recent_schedule_time(HOURLY, START, START + HOUR + 30, 60)
    assert unmet.most_recent == START + HOUR


def test_a_schedule_that_never_fires_is_an_error() -> None:
    with pytest.raises(ScheduleNeverFires) as raised:
        most_recent_schedule_time(parse_standard("0 0 30 2 *"), START, START + HOUR, None)
    assert str(raised.value) == "time difference between two schedules is less than 1 second"


def test_requeue_is_just_after_the_next_time() -> None:
    assert requeue_after(HOURLY, START, START + 10) == pytest.approx(
        HOUR - 10 + NEXT_SCHEDULE_DELTA
    )
    # past due times do not pull the requeue into the past
    assert requeue_after(HOURLY, START, START + 3 * HOUR + 10) == pytest.approx(
        HOUR - 10 + NEXT_SCHEDULE_DELTA
    )
    assert requeue_after(parse_standard("0 0 30 2 *"), START, START + 10) is None


def test_scheduled_timestamps_are_rfc3339_in_the_zone() -> None:
    assert rfc3339_in(START, zoneinfo.ZoneInfo("UTC")) == "2024-05-01T00:00:00Z"
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    assert rfc3339_in(START, kolkata) == "2024-05-01T05:30:00+05:30"
    # a zone whose offset happens to be zero prints Z, as Go does
    assert rfc3339_in(START + 0.5, zoneinfo.ZoneInfo("Africa/Abidjan")) == "2024-05-01T00:00:00Z"
