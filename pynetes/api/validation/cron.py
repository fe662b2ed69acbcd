"""CronJob schedules and time zones, judged as upstream judges them.

Upstream parses ``spec.schedule`` with robfig/cron v3's ``ParseStandard``
(five fields, ``@hourly``-style descriptors, ``@every <duration>``, an
optional ``TZ=``/``CRON_TZ=`` prefix) and reports that parser's error text;
time zones are loaded with Go's ``time.LoadLocation``. This module returns
the same texts; it only checks, it does not schedule.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from pynetes.api.duration import DurationError, parse_duration

_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_EVERY = "@every "
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_SIGNED_DIGITS = re.compile("[+-]?[0-9]+")
_MAX_INT64 = (1 << 63) - 1


class ScheduleError(ValueError):
    """A schedule robfig/cron rejects; the message is that parser's."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


#: minute, hour, day of month, month, day of week: the five standard fields.
_FIELDS = (
    _Bounds(0, 59, {}),
    _Bounds(0, 23, {}),
    _Bounds(1, 31, {}),
    _Bounds(1, 12, _MONTHS),
    _Bounds(0, 6, _WEEKDAYS),
)


def schedule_error(schedule: str) -> str | None:
    """robfig/cron ParseStandard's error for ``schedule``, or None when it parses."""
    try:
        _parse_standard(schedule)
    except ScheduleError as error:
        return str(error)
    return None


def _parse_standard(spec: str) -> None:
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        problem = location_error(name)
        if problem is not None:
            raise ScheduleError(f"provided bad location {name}: {problem}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        _parse_descriptor(spec)
        return
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        raise ScheduleError(
            f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: [{' '.join(fields)}]"
        )
    for text, bounds in zip(fields, _FIELDS, strict=True):
        for expression in (part for part in text.split(",") if part):
            _check_range(expression, bounds)


def _parse_descriptor(descriptor: str) -> None:
    if descriptor in _DESCRIPTORS:
        return
    if descriptor.startswith(_EVERY):
        problem = duration_error(descriptor[len(_EVERY) :])
        if problem is not None:
            raise ScheduleError(f"failed to parse duration {descriptor}: {problem}")
        return
    raise ScheduleError(f"unrecognized descriptor: {descriptor}")


def _check_range(expression: str, bounds: _Bounds) -> None:
    """robfig getRange: ``*``, ``?``, ``a``, ``a-b``, each optionally ``/step``."""
    range_and_step = expression.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
    else:
        start = _int_or_name(low_and_high[0], bounds.names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds.names)
        else:
            raise ScheduleError(f"too many hyphens: {expression}")
    step = 1
    if len(range_and_step) == 2:
        step = _non_negative_int(range_and_step[1])
        if len(low_and_high) == 1:
            end = bounds.high
    elif len(range_and_step) > 2:
        raise ScheduleError(f"too many slashes: {expression}")
    if start < bounds.low:
        raise ScheduleError(
            f"beginning of range ({start}) below minimum ({bounds.low}): {expression}"
        )
    if end > bounds.high:
        raise ScheduleError(f"end of range ({end}) above maximum ({bounds.high}): {expression}")
    if start > end:
        raise ScheduleError(
            f"beginning of range ({start}) beyond end of range ({end}): {expression}"
        )
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expression}")


def _int_or_name(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    return _non_negative_int(text)


def _non_negative_int(text: str) -> int:
    """robfig mustParseInt, with Go strconv.Atoi's error texts."""
    if not _SIGNED_DIGITS.fullmatch(text):
        raise ScheduleError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    number = int(text)
    if not -_MAX_INT64 - 1 <= number <= _MAX_INT64:
        raise ScheduleError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": value out of range'
        )
    if number < 0:
        raise ScheduleError(f"negative number ({number}) not allowed: {text}")
    return number


def duration_error(text: str) -> str | None:
    """Go time.ParseDuration's error for ``text`` (``1h30m``, ``.5s``), or None."""
    try:
        parse_duration(text)
    except DurationError as error:
        return str(error)
    return None


def location_error(name: str) -> str | None:
    """Go time.LoadLocation's error for a zone name, or None when the zone loads."""
    if name in ("", "UTC", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, OSError):
        return f"unknown time zone {name}"
    except ValueError:
        return "time: invalid location name"
    return None
