"""Go durations (``time.ParseDuration``): ``40s``, ``1h30m``, ``.5s``, ``300ms``.

Flags, configuration files and CronJobs' ``@every`` take them; this module
parses them with Go's rules and error texts, so one parser serves all.
"""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_MAX_INT64 = (1 << 63) - 1
#: Nanoseconds per unit.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


class DurationError(ValueError):
    """Text Go's ``time.ParseDuration`` rejects; the message is Go's."""


def parse_duration(text: str) -> float:
    """Seconds in the Go duration ``text``; :class:`DurationError` if Go refuses it."""
    invalid = f'time: invalid duration "{text}"'
    sign = -1 if text[:1] == "-" else 1
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(invalid)
    nanoseconds = 0.0
    while rest:
        part = _PART.match(rest)
        assert part is not None  # every group may be empty: the pattern always matches
        whole, fraction, unit = part.groups()
        if not whole and not fraction:
            raise DurationError(invalid)
        if not unit:
            raise DurationError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration "{text}"')
        nanoseconds += float(f"{whole or '0'}.{fraction or '0'}") * _UNITS[unit]
        if nanoseconds > _MAX_INT64:
            raise DurationError(invalid)
        rest = rest[part.end() :]
    return sign * nanoseconds / 1e9


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String``: ``1s``, ``1m30s``, ``1h0m0s``, ``500ms``, ``0s``.

    Upstream's messages print durations this way ("within 1s"), so ours do too.
    """
    nanoseconds = round(seconds * 1e9)
    sign, nanoseconds = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if nanoseconds == 0:
        return "0s"
    if nanoseconds < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanoseconds >= size:
                return sign + _decimal(nanoseconds, size) + unit
    hours, rest = divmod(nanoseconds, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    """``value / unit`` with Go's shortest fraction (no trailing zeros)."""
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")
