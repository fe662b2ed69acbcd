"""Cron schedule maths: next activation times as robfig/cron v3 computes them."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

import pytest

from pynetes.api.cron import ScheduleError, go_date, parse_standard

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def next_after(schedule: str, moment: str) -> str | None:
    found = parse_standard(schedule).next(at(moment))
    if found is None:
        return None
    return datetime.fromtimestamp(found, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/15 * * * *", "2024-05-01T10:07:30+00:00", "2024-05-01T10:15:00Z"),
        # strictly after: a time that is itself an activation is not returned
        ("*/15 * * * *", "2024-05-01T10:15:00+00:00", "2024-05-01T10:30:00Z"),
        ("0 9 * * 1-5", "2024-03-01T10:00:00+00:00", "2024-03-04T09:00:00Z"),
        ("0 0 1 jan *", "2024-05-01T00:00:00+00:00", "2025-01-01T00:00:00Z"),
        ("59 23 31 * *", "2024-04-01T00:00:00+00:00", "2024-05-31T23:59:00Z"),
        ("0 0 29 2 *", "2024-03-01T00:00:00+00:00", "2028-02-29T00:00:00Z"),
        ("@hourly", "2024-05-01T10:00:00+00:00", "2024-05-01T11:00:00Z"),
        ("@weekly", "2024-09-01T00:00:00+00:00", "2024-09-08T00:00:00Z"),
        ("@yearly", "2024-09-01T00:00:00+00:00", "2025-01-01T00:00:00Z"),
    ],
)
def test_next_activation(schedule: str, after: str, expected: str) -> None:
    assert next_after(schedule, after) == expected


def test_day_of_month_and_weekday_combine_with_or_unless_one_is_a_star() -> None:
    # 2024-09-01 is a Sunday; 2024-09-02 a Monday.
    assert next_after("0 0 * * mon", "2024-09-01T00:00:00+00:00") == "2024-09-02T00:00:00Z"
    # "*/1" still counts as a star: every day AND Friday
    assert next_after("0 0 */1 * 5", "2024-09-01T00:00:00+00:00") == "2024-09-06T00:00:00Z"
    # the 13th OR a Friday: Friday the 6th comes first
    assert next_after("0 0 13 * 5", "2024-09-01T00:00:00+00:00") == "2024-09-06T00:00:00Z"
    # a step above 1 is no star: odd days OR Mondays, so Monday the 2nd fires
    assert next_after("0 0 1-31/2 * 1", "2024-09-01T00:00:00+00:00") == "2024-09-02T00:00:00Z"
    assert next_after("0 0 */2 * 1", "2024-09-01T00:00:00+00:00") == "2024-09-02T00:00:00Z"


def test_every_is_a_fixed_delay_from_the_whole_second() -> None:
    schedule = parse_standard("@every 1h30m")
    assert schedule.next(100.75) == 100 + 5400
    assert parse_standard("@every 10ms").next(5.5) == 6  # at least a second


def test_a_date_that_never_exists_has_no_next_time() -> None:
    assert next_after("0 0 30 2 *", "2024-01-01T00:00:00+00:00") is None
    assert next_after("0 0 31 4,6,9,11 *", "2024-01-01T00:00:00+00:00") is None


def test_time_zone_prefix_runs_the_schedule_in_that_zone() -> None:
    assert (
        next_after("TZ=Asia/Kolkata 0 9 * * *", "2024-05-01T00:00:00+00:00")
        == "2024-05-01T03:30:00Z"
    )
    assert (
        next_after("CRON_TZ=America/New_York 0 9 * * *", "2024-07-01T00:00:00+00:00")
        == "2024-07-01T13:00:00Z"
    )


def test_a_time_skipped_by_daylight_saving_does_not_fire_that_day() -> None:
    # 2024-03-10 02:30 does not exist in New York: the next run is the day after.
    schedule = "TZ=America/New_York 30 2 * * *"
    assert next_after(schedule, "2024-03-09T08:00:00+00:00") == "2024-03-11T06:30:00Z"


def test_a_time_repeated_by_daylight_saving_fires_twice() -> None:
    # 2024-11-03 01:30 happens in EDT (05:30Z) and again in EST (06:30Z).
    schedule = "TZ=America/New_York 30 1 * * *"
    assert next_after(schedule, "2024-11-02T12:00:00+00:00") == "2024-11-03T05:30:00Z"
    assert next_after(schedule, "2024-11-03T05:30:00+00:00") == "2024-11-03T06:30:00Z"
    assert next_after(schedule, "2024-11-03T06:30:00+00:00") == "2024-11-04T06:30:00Z"


def test_go_date_resolves_skipped_and_repeated_wall_times_as_go_does() -> None:
    # a skipped New York time takes the offset after the change (01:30 EST, 06:30Z)
    assert go_date(2021, 3, 14, 2, 30, 0, NEW_YORK) == at("2021-03-14T06:30:00+00:00")
    # a skipped Berlin time takes the offset before it (03:30 CEST, 01:30Z)
    assert go_date(2021, 3, 28, 2, 30, 0, BERLIN) == at("2021-03-28T01:30:00+00:00")
    # a repeated Berlin time is its second occurrence (CET), unlike Python's fold=0
    assert go_date(2021, 10, 31, 2, 30, 0, BERLIN) == at("2021-10-31T01:30:00+00:00")
    # fields out of range carry over
    assert go_date(2024, 13, 32, 0, 0, 0, UTC) == at("2025-02-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("@often", "unrecognized descriptor: @often"),
        (
            "TZ=Nowhere/Land * * * * *",
            "provided bad location Nowhere/Land: unknown time zone Nowhere/Land",
        ),
    ],
)
def test_rejected_schedules_carry_robfigs_messages(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_standard(schedule)
    assert str(raised.value) == message
