"""Ages as kubectl shows them: upstream's duration.HumanDuration and its placeholders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pynetes.apiserver.tables import age

from .support import NOW


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        # Seconds are shown up to two minutes, then minutes and seconds below ten minutes.
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=5, seconds=3), "5m3s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=4), "3h4m"),
        (timedelta(hours=8, minutes=4), "8h"),
        (timedelta(hours=47, minutes=59), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=7, hours=23), "7d23h"),
        (timedelta(days=8, hours=5), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=365 * 3), "3y"),
        (timedelta(days=365 * 3 + 45), "3y45d"),
        (timedelta(days=365 * 9 + 45), "9y"),
        # Clock skew: up to a second in the future is "now", more is invalid.
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(seconds=-2), "<invalid>"),
    ],
)
def test_human_duration_matches_upstream(delta: timedelta, expected: str) -> None:
    assert age.human_duration(delta) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2024-08-15T11:55:00Z", "5m"),
        ("2024-08-15T13:55:00+02:00", "5m"),
        ("2024-08-15T11:59:30.123456Z", "29s"),
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("0001-01-01T00:00:00Z", "<unknown>"),
        ("yesterday", "<unknown>"),
    ],
)
def test_since_reads_rfc3339_and_treats_missing_as_unknown(
    timestamp: str | None, expected: str
) -> None:
    assert age.since(timestamp, NOW) == expected


def test_created_at_is_utc_to_the_second_and_zero_when_absent() -> None:
    # rest.NewDefaultTableConvertor formats creationTimestamp.UTC() with time.RFC3339.
    assert age.rfc3339("2024-08-15T13:55:00.5+02:00") == "2024-08-15T11:55:00Z"
    assert age.rfc3339(None) == "0001-01-01T00:00:00Z"


def test_parse_rfc3339_keeps_the_zero_time_apart_from_malformed_text() -> None:
    assert age.parse_rfc3339("0001-01-01T00:00:00Z") == age.ZERO
    assert age.parse_rfc3339("2024-08-15") is None
    assert age.parse_rfc3339("2024-02-30T00:00:00Z") is None
    assert age.parse_rfc3339("2024-08-15T10:00:00Z") == datetime(2024, 8, 15, 10, tzinfo=UTC)
