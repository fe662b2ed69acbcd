"""Timestamps and durations as kube-apiserver prints them in Table cells.

Upstream renders every age with ``duration.HumanDuration`` (apimachinery
``pkg/util/duration``): about two significant figures, ``45s``, ``5m3s``,
``3h4m``, ``2d3h``, ``3y45d``. A timestamp that is absent (Go's zero time)
prints ``<unknown>``; one more than a second in the future prints
``<invalid>``. The clock is always passed in, never read here, so that one
Table is computed against one instant and tests need no real time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

#: RFC 3339 as Go's ``time.Parse(time.RFC3339, ...)`` accepts it (fractional
#: seconds allowed, ``T`` and a zone required).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})\Z"
)
_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY_HOURS = 24
_YEAR_DAYS = 365

UNKNOWN = "<unknown>"


ZERO = datetime(1, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 string as an aware UTC datetime; None when malformed.

    Go's zero time (``0001-01-01T00:00:00Z``) parses to :data:`ZERO`.
    """
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond,
            tzinfo=_zone(zone),
        )  # fmt: skip
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def parse_timestamp(value: object) -> datetime | None:
    """A ``metav1.Time`` or ``MicroTime`` value as an aware datetime.

    None for an absent, empty, malformed or zero timestamp: upstream holds
    them all as Go's zero time.
    """
    moment = parse_rfc3339(value) if isinstance(value, str) else None
    return None if moment == ZERO else moment


def _zone(zone: str) -> timezone:
    if zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return timezone(sign * offset)


def human_duration(delta: timedelta) -> str:
    """Go's ``duration.HumanDuration``, to the microsecond."""
    micros = (delta.days * 86_400 + delta.seconds) * _SECOND + delta.microseconds
    seconds = _truncate(micros, _SECOND)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = micros // _MINUTE
    if minutes < 10:
        return _pair(minutes, "m", seconds % 60, "s")
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = micros // _HOUR
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // _DAY_HOURS
    if hours < _DAY_HOURS * 8:
        return _pair(days, "d", hours % _DAY_HOURS, "h")
    if hours < _DAY_HOURS * _YEAR_DAYS * 2:
        return f"{days}d"
    if hours < _DAY_HOURS * _YEAR_DAYS * 8:
        return _pair(days // _YEAR_DAYS, "y", days % _YEAR_DAYS, "d")
    return f"{days // _YEAR_DAYS}y"


def _truncate(value: int, unit: int) -> int:
    """Division rounding toward zero, as Go's integer conversion of a duration."""
    quotient = abs(value) // unit
    return quotient if value >= 0 else -quotient


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    if minor == 0:
        return f"{major}{major_unit}"
    return f"{major}{major_unit}{minor}{minor_unit}"


def since(value: object, now: datetime) -> str:
    """The age of a timestamp at ``now`` (``translateTimestampSince``)."""
    return elapsed(parse_timestamp(value), now)


def elapsed(moment: datetime | None, now: datetime) -> str:
    """The time from ``moment`` to ``now``; ``<unknown>`` for no or the zero time."""
    if moment is None or moment == ZERO:
        return UNKNOWN
    return human_duration(now - moment)


def between(start: datetime, end: datetime) -> str:
    """The duration from ``start`` to ``end``, as a Job's DURATION column."""
    return human_duration(end - start)


def rfc3339(value: object) -> str:
    """A timestamp in UTC to the second, zero when absent: the default "Created At" cell."""
    moment = parse_timestamp(value) or ZERO
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )
