"""The CRI container log format, written by runtimes and read by the kubelet.

One line per chunk of output::

    2016-10-06T00:17:09.669794202Z stdout F log content

timestamp (RFC 3339 with nanoseconds, Go's ``RFC3339Nano``: trailing zeros of the
fraction dropped), stream (``stdout``/``stderr``), tag (``F`` a full line, ``P`` a
partial one whose rest follows in the next entry), then the content up to and
including ``\\n``. A line longer than the runtime's buffer is split into ``P``
entries followed by an ``F`` one, so readers join them.
"""

from __future__ import annotations

import time
from collections import namedtuple
from datetime import UTC, datetime

FULL = b"F"
PARTIAL = b"P"
STDOUT = b"stdout"
STDERR = b"stderr"


class LogEntry(namedtuple("LogEntry", ["timestamp_ns", "stream", "full", "content"])):
    """One entry of a CRI log file; ``content`` ends with ``\\n`` only when ``full``.

    Fields: ``timestamp_ns`` (int), ``stream`` (bytes), ``full`` (bool), ``content``
    (bytes). A named tuple, not a dataclass: every container's shim imports this module
    for ``encode``, and dataclasses would add about 2 MB to each shim.
    """

    __slots__ = ()

    def rfc3339(self) -> str:
        return format_timestamp(self.timestamp_ns)


def format_timestamp(timestamp_ns: int) -> str:
    """Go's RFC3339Nano in UTC: ``2016-10-06T00:17:09.669794202Z``, zeros trimmed."""
    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if not nanos:
        return base + "Z"
    return f"{base}.{nanos:09d}".rstrip("0") + "Z"


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp with up to nine digits."""
    head, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def encode(timestamp_ns: int, stream: bytes, content: bytes) -> bytes:
    """One entry: a full line when ``content`` ends with ``\\n``, else a partial one."""
    if content.endswith(b"\n"):
        return b"%s %s F %s" % (format_timestamp(timestamp_ns).encode(), stream, content)
    return b"%s %s P %s\n" % (format_timestamp(timestamp_ns).encode(), stream, content)


def parse(line: bytes) -> LogEntry:
    """An entry from one line of a log file (``ValueError`` when it is not one)."""
    stamp, stream, tag, content = line.split(b" ", 3)
    if stream not in (STDOUT, STDERR) or tag not in (FULL, PARTIAL):
        raise ValueError(f"not a CRI log line: {line[:80]!r}")
    full = tag == FULL
    if not full:
        content = content.removesuffix(b"\n")
    return LogEntry(parse_timestamp(stamp.decode()), stream, full, content)
