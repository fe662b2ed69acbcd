"""Go durations, parsed with Go's rules and refused with Go's words."""

from __future__ import annotations

import pytest

from pynetes.api.duration import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("15s", 15.0), ("1h30m", 5400.0), (".5s", 0.5), ("-2m", -120.0), ("300ms", 0.3)],
)
def test_parses(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("15", 'time: missing unit in duration "15"'),
        ("3d", 'time: unknown unit "d" in duration "3d"'),
        ("s", 'time: invalid duration "s"'),
    ],
)
def test_refuses_with_gos_message(text: str, message: str) -> None:
    with pytest.raises(DurationError) as raised:
        parse_duration(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
        (0.0000015, "1.5µs"),
        (-60, "-1m0s"),
    ],
)
def test_formats_as_go_prints(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
