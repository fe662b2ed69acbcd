"""Indexed Jobs' completedIndexes text, and the backoff between pod failures."""

from __future__ import annotations

import pytest

from pynetes.controllermanager.controllers.job.conditions import failure_backoff
from pynetes.controllermanager.controllers.job.indexes import format_indexes, parse_indexes


@pytest.mark.parametrize(
    ("indexes", "text"),
    [(set(), ""), ({3}, "3"), ({0, 1, 2, 5}, "0-2,5"), ({1, 3, 4, 5, 9, 10}, "1,3-5,9-10")],
)
def test_format_and_parse_round_trip(indexes: set[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == indexes


def test_parse_ignores_indexes_past_completions_and_garbage() -> None:
    assert parse_indexes("0-2,x,7-9", 8) == {0, 1, 2, 7}
    assert parse_indexes(None, 5) == set()


def test_failure_backoff_doubles_from_ten_seconds_to_six_minutes() -> None:
    assert [failure_backoff(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 320]
    assert failure_backoff(8) == 360
