"""Which scheduled time a CronJob owes a Job for, and when to look again.

As upstream's mostRecentScheduleTime / nextScheduleTime /
nextScheduleTimeDuration. Times are seconds since the epoch; ``earliest``
is the CronJob's ``status.lastScheduleTime``, else its creation time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pynetes.api.cron import Schedule

#: More missed start times than this is reported as a likely clock or config problem.
MANY_MISSED = 100
#: Upstream's nextScheduleDelta: requeue a little after the schedule time, for clock skew.
NEXT_SCHEDULE_DELTA = 0.1
#: upstream's error text for a schedule whose two next times are less than a second apart
#: (robfig returns its zero time for a date that never exists, e.g. ``0 0 30 2 *``).
NEVER_FIRES = "time difference between two schedules is less than 1 second"


class Missed(enum.Enum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


class ScheduleNeverFires(ValueError):
    """The schedule parses but gives no usable times."""

    def __init__(self) -> None:
        super().__init__(NEVER_FIRES)


@dataclass(frozen=True)
class Unmet:
    """``earliest`` actually used, the latest time due at or before now (if any), and how
    many times were missed since ``earliest``."""

    earliest: float
    most_recent: float | None
    missed: Missed


def most_recent_schedule_time(
    schedule: Schedule, earliest: float, now: float, starting_deadline: int | None
) -> Unmet:
    """The latest activation in (earliest, now], estimated without walking every missed one.

    ``starting_deadline`` (seconds) moves ``earliest`` up to ``now`` minus it: older times
    can no longer start. Raises :class:`ScheduleNeverFires` when the schedule has no two
    distinct next times.
    """
    if starting_deadline is not None:
        earliest = max(earliest, now - starting_deadline)
    first = schedule.next(earliest)
    second = schedule.next(first) if first is not None else None
    if first is not None and now < first:
        return Unmet(earliest, None, Missed.NONE)
    if second is not None and now < second:
        return Unmet(earliest, first, Missed.NONE)
    if first is None or second is None or _go_round(second - first) < 1:
        raise ScheduleNeverFires()
    interval = _go_round(second - first)
    missed = int(now - first) // interval + 1
    # Start two estimated intervals back so irregular schedules still find their latest time.
    moment = schedule.next(first + (missed - 2) * interval)
    most_recent: float | None = None
    while moment is not None and moment <= now:
        most_recent = moment
        moment = schedule.next(moment)
    kind = Missed.MANY if missed > MANY_MISSED else Missed.FEW
    return Unmet(earliest, most_recent, kind)


def requeue_after(schedule: Schedule, earliest: float, now: float) -> float | None:
    """Seconds until just after the next activation (None if the schedule never fires)."""
    try:
        unmet = most_recent_schedule_time(schedule, earliest, now, None)
    except ScheduleNeverFires:
        base = now
    else:
        base = unmet.most_recent if unmet.most_recent is not None else unmet.earliest
    following = schedule.next(base)
    if following is None:
        return None
    return following + NEXT_SCHEDULE_DELTA - now


def _go_round(seconds: float) -> int:
    """Go's Duration.Round(time.Second): halves away from zero."""
    whole = int(abs(seconds) + 0.5)
    return whole if seconds >= 0 else -whole
