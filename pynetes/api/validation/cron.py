"""CronJob schedules and time zones, judged as upstream judges them.

Upstream validates ``spec.schedule`` with robfig/cron v3's ``ParseStandard``
and ``spec.timeZone`` with Go's ``time.LoadLocation``, and reports their
error texts. The parsing itself lives in :mod:`pynetes.api.cron`, which the
CronJob controller schedules with: one parser, so what the API accepts is
exactly what the controller runs.
"""

from __future__ import annotations

from pynetes.api import cron


def schedule_error(schedule: str) -> str | None:
    """robfig/cron ParseStandard's error for ``schedule``, or None when it parses."""
    try:
        cron.parse_standard(schedule)
    except cron.ScheduleError as error:
        return str(error)
    return None


def location_error(name: str) -> str | None:
    """Go time.LoadLocation's error for a zone name, or None when the zone loads."""
    try:
        cron.load_location(name)
    except cron.LocationError as error:
        return str(error)
    return None
