"""Cron schedules as upstream's CronJob controller reads them (robfig/cron v3).

:func:`parse_standard` accepts what robfig/cron's ``ParseStandard`` accepts
(five fields, ``@hourly``-style descriptors, ``@every <duration>``, an
optional ``TZ=``/``CRON_TZ=`` prefix) and fails with that parser's error
texts; the API server's validation and the controller share it, so the two
can never disagree about a schedule.

:meth:`Schedule.next` gives the first activation strictly after a time, as
robfig's ``Next`` does, including its handling of daylight saving time: it
walks the local calendar of the schedule's zone field by field, and builds
local times as Go's ``time.Date`` does (a wall time that a DST change skips
or repeats resolves the way Go resolves it, which is not always Python's
``fold=0``). A schedule that matches no existing date (``0 0 30 2 *``) has
no next time within five years: ``next`` returns None there, as robfig
returns Go's zero time.

Times are seconds since the epoch. A schedule without a zone runs in UTC:
upstream uses the controller manager's local zone, which is UTC in the
usual container, and a controller's schedule must not depend on the host.
"""

from __future__ import annotations

import calendar
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from pynetes.api.duration import DurationError, parse_duration

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
#: robfig marks a field written as ``*`` or ``?`` (without a step above 1): it changes
#: how day of month and day of week combine.
STAR = 1 << 63
_DAY = 86_400
_HOUR = 3_600
_MINUTE = 60


class ScheduleError(ValueError):
    """A schedule robfig/cron rejects; the message is that parser's."""


class LocationError(ValueError):
    """A zone name Go's ``time.LoadLocation`` rejects; the message is Go's."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]

    def all(self) -> int:
        return _bits(self.low, self.high, 1) | STAR


_MINUTES = _Bounds(0, 59, {})
_HOURS = _Bounds(0, 23, {})
_DAYS_OF_MONTH = _Bounds(1, 31, {})
_MONTHS_OF_YEAR = _Bounds(1, 12, _MONTHS)
_DAYS_OF_WEEK = _Bounds(0, 6, _WEEKDAYS)
#: minute, hour, day of month, month, day of week: the five standard fields.
_FIELDS = (_MINUTES, _HOURS, _DAYS_OF_MONTH, _MONTHS_OF_YEAR, _DAYS_OF_WEEK)


class Schedule(Protocol):
    """When a cron schedule fires."""

    def next(self, after: float) -> float | None:
        """The first activation strictly after ``after``; None if there is none in 5 years."""
        ...


@dataclass(frozen=True)
class EverySchedule:
    """``@every <duration>``: a fixed delay (whole seconds, at least one) after each time."""

    delay: int

    def next(self, after: float) -> float | None:
        return math.floor(after) + self.delay


@dataclass(frozen=True)
class SpecSchedule:
    """Five cron fields as bit sets (bit n set: value n matches; :data:`STAR` marks ``*``)."""

    minute: int
    hour: int
    day_of_month: int
    month: int
    day_of_week: int
    zone: tzinfo

    def next(self, after: float) -> float | None:
        return _Search(self, math.floor(after) + 1).run()

    def day_matches(self, moment: datetime) -> bool:
        """robfig dayMatches: both day fields must match when either is ``*``, else either."""
        by_date = bool(1 << moment.day & self.day_of_month)
        by_weekday = bool(1 << _go_weekday(moment) & self.day_of_week)
        if (self.day_of_month | self.day_of_week) & STAR:
            return by_date and by_weekday
        return by_date or by_weekday


class _Search:
    """robfig's SpecSchedule.Next: advance month, day, hour, minute until all match.

    Each step that moves a field first resets the smaller fields (once:
    ``reset``), and a field wrapping past its end starts the search over
    from the month, as robfig's ``goto WRAP`` does.
    """

    def __init__(self, schedule: SpecSchedule, start: int) -> None:
        self.schedule = schedule
        self.zone = schedule.zone
        self.instant = start
        self.reset = False

    def local(self) -> datetime:
        return datetime.fromtimestamp(self.instant, self.zone)

    def run(self) -> float | None:
        year_limit = self.local().year + 5
        while self.local().year <= year_limit:
            if self._month() and self._day() and self._hour() and self._minute():
                return float(self.instant)
        return None

    def _first_move(self, instant: int) -> None:
        if not self.reset:
            self.reset = True
            self.instant = instant

    def _month(self) -> bool:
        while not 1 << self.local().month & self.schedule.month:
            now = self.local()
            self._first_move(go_date(now.year, now.month, 1, 0, 0, 0, self.zone))
            now = self.local()
            self.instant = go_date(
                now.year, now.month + 1, now.day, now.hour, now.minute, now.second, self.zone
            )
            if self.local().month == 1:
                return False
        return True

    def _day(self) -> bool:
        while not self.schedule.day_matches(self.local()):
            now = self.local()
            self._first_move(go_date(now.year, now.month, now.day, 0, 0, 0, self.zone))
            now = self.local()
            self.instant = go_date(
                now.year, now.month, now.day + 1, now.hour, now.minute, now.second, self.zone
            )
            hour = self.local().hour
            if hour != 0:  # midnight did not exist (DST): back to the day's first hour
                self.instant += (24 - hour) * _HOUR if hour > 12 else -hour * _HOUR
            if self.local().day == 1:
                return False
        return True

    def _hour(self) -> bool:
        while not 1 << self.local().hour & self.schedule.hour:
            now = self.local()
            self._first_move(go_date(now.year, now.month, now.day, now.hour, 0, 0, self.zone))
            self.instant += _HOUR
            if self.local().hour == 0:
                return False
        return True

    def _minute(self) -> bool:
        while not 1 << self.local().minute & self.schedule.minute:
            self._first_move(self.instant - self.instant % _MINUTE)
            self.instant += _MINUTE
            if self.local().minute == 0:
                return False
        second = self.local().second
        if second != 0:  # robfig's seconds field is always 0: on to the next minute, re-check
            self._first_move(self.instant)
            self.instant += _MINUTE - second
            return False
        return True


def go_date(
    year: int, month: int, day: int, hour: int, minute: int, second: int, zone: tzinfo
) -> int:
    """Go's ``time.Date`` in seconds: out-of-range fields carry over, and a wall time
    skipped or repeated by a zone change takes the offset Go's lookup gives it."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    wall = (
        calendar.timegm((year, month, 1, 0, 0, 0))
        + (day - 1) * _DAY
        + hour * _HOUR
        + minute * _MINUTE
        + second
    )
    return wall - _offset(wall - _offset(wall, zone), zone)


def _offset(instant: int, zone: tzinfo) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _go_weekday(moment: datetime) -> int:
    """Sunday is 0, as Go's (and cron's) weekday."""
    return (moment.weekday() + 1) % 7


def load_location(name: str) -> tzinfo:
    """Go's ``time.LoadLocation``: "" and "UTC" are UTC, and so is "Local" here."""
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, OSError):
        raise LocationError(f"unknown time zone {name}") from None
    except ValueError:
        raise LocationError("time: invalid location name") from None


def parse_standard(spec: str) -> Schedule:
    """robfig/cron v3 ``ParseStandard``; :class:`ScheduleError` with its text if it refuses."""
    if not spec:
        raise ScheduleError("empty spec string")
    zone: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        try:
            zone = load_location(name)
        except LocationError as error:
            raise ScheduleError(f"provided bad location {name}: {error}") from None
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _parse_descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        raise ScheduleError(
            f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: [{' '.join(fields)}]"
        )
    minute, hour, day_of_month, month, day_of_week = (
        _field(text, bounds) for text, bounds in zip(fields, _FIELDS, strict=True)
    )
    return SpecSchedule(minute, hour, day_of_month, month, day_of_week, zone)


def _parse_descriptor(descriptor: str, zone: tzinfo) -> Schedule:
    every_day = _DAYS_OF_MONTH.all()
    every_month = _MONTHS_OF_YEAR.all()
    every_weekday = _DAYS_OF_WEEK.all()
    midnight = (1 << 0, 1 << 0)
    match descriptor:
        case "@yearly" | "@annually":
            return SpecSchedule(*midnight, 1 << 1, 1 << 1, every_weekday, zone)
        case "@monthly":
            return SpecSchedule(*midnight, 1 << 1, every_month, every_weekday, zone)
        case "@weekly":
            return SpecSchedule(*midnight, every_day, every_month, 1 << 0, zone)
        case "@daily" | "@midnight":
            return SpecSchedule(*midnight, every_day, every_month, every_weekday, zone)
        case "@hourly":
            return SpecSchedule(1 << 0, _HOURS.all(), every_day, every_month, every_weekday, zone)
    if descriptor.startswith(_EVERY):
        try:
            seconds = parse_duration(descriptor[len(_EVERY) :])
        except DurationError as error:
            raise ScheduleError(f"failed to parse duration {descriptor}: {error}") from None
        return EverySchedule(max(1, math.floor(seconds)))
    raise ScheduleError(f"unrecognized descriptor: {descriptor}")


def _field(text: str, bounds: _Bounds) -> int:
    """robfig getField: the union of the comma-separated ranges."""
    bits = 0
    for expression in (part for part in text.split(",") if part):
        bits |= _range(expression, bounds)
    return bits


def _range(expression: str, bounds: _Bounds) -> int:
    """robfig getRange: ``*``, ``?``, ``a``, ``a-b``, each optionally ``/step``."""
    range_and_step = expression.split("/")
    low_and_high = range_and_step[0].split("-")
    star = 0
    if low_and_high[0] in ("*", "?"):
        start, end, star = bounds.low, bounds.high, STAR
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
            end = bounds.high  # "N/step" means "N-max/step"
        if step > 1:
            star = 0
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
    return _bits(start, end, step) | star


def _bits(start: int, end: int, step: int) -> int:
    bits = 0
    for value in range(start, end + 1, step):
        bits |= 1 << value
    return bits


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
