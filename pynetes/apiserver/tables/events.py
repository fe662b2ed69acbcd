"""Events, core/v1 and events.k8s.io/v1: LAST SEEN TYPE REASON OBJECT MESSAGE.

Both groups serve the same stored events, so upstream prints them with one
printer (``printEvent``, on the internal type). The wide columns are
SUBOBJECT SOURCE FIRST SEEN COUNT NAME. Events written through the new API
have no first/last timestamps: upstream falls back to ``eventTime``, and for
a series to ``series.lastObservedTime`` and ``series.count``; a singleton
event with no count counts 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import Object, name, section
from pynetes.apiserver.tables.columns import NAME, Cells, Column, Doc, Printer, core

_EVENT = core("Event")
COLUMNS = (
    Column("Last Seen", "string", Doc(_EVENT, "lastTimestamp")),
    Column("Type", "string", Doc(_EVENT, "type")),
    Column("Reason", "string", Doc(_EVENT, "reason")),
    Column("Object", "string", Doc(_EVENT, "involvedObject")),
    Column("Subobject", "string", Doc(core("ObjectReference"), "fieldPath"), 1),
    Column("Source", "string", Doc(_EVENT, "source"), 1),
    Column("Message", "string", Doc(_EVENT, "message")),
    Column("First Seen", "string", Doc(_EVENT, "firstTimestamp"), 1),
    Column("Count", "string", Doc(_EVENT, "count"), 1),
    Column("Name", "string", NAME.description, 1, "name"),
)


@dataclass(frozen=True)
class _Fields:
    """Where one API group's Event keeps the fields the printer reads."""

    regarding: str
    message: str
    first: str
    last: str
    count: str
    source: str
    controller: str


_CORE = _Fields(
    "involvedObject", "message", "firstTimestamp", "lastTimestamp", "count", "source",
    "reportingComponent",
)  # fmt: skip
_EVENTS_API = _Fields(
    "regarding", "note", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
    "deprecatedCount", "deprecatedSource", "reportingController",
)  # fmt: skip


def _printer(fields: _Fields) -> Printer:
    def cells(event: Object, now: datetime) -> Cells:
        return _cells(event, fields, now)

    return Printer(COLUMNS, cells)


def _cells(event: Object, fields: _Fields, now: datetime) -> Cells:
    first = age.parse_timestamp(event.get(fields.first))
    last = age.parse_timestamp(event.get(fields.last))
    first_seen = (
        age.since(event.get("eventTime"), now) if first is None else age.elapsed(first, now)
    )
    last_seen = first_seen if last is None else age.elapsed(last, now)
    count = event.get(fields.count) or 0
    series = event.get("series")
    if series is not None:
        last_seen = age.since(series.get("lastObservedTime"), now)
        count = series.get("count", 0)
    elif count == 0:
        count = 1
    regarding = section(event, fields.regarding)
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        _target(regarding),
        regarding.get("fieldPath", ""),
        _source(section(event, fields.source), event, fields),
        (event.get(fields.message) or "").strip(),
        first_seen,
        count,
        name(event),
    ]


def _target(regarding: Object) -> str:
    kind = regarding.get("kind", "").lower()
    target = regarding.get("name", "")
    return f"{kind}/{target}" if target else kind


def _source(source: Object, event: Object, fields: _Fields) -> str:
    """``formatEventSource``: component (or reporting controller), then host (or instance)."""
    component = source.get("component") or event.get(fields.controller) or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


PRINTERS = {("", "events"): _printer(_CORE), ("events.k8s.io", "events"): _printer(_EVENTS_API)}
