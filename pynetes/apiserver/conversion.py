"""Resources that are views of another resource's stored objects.

Upstream stores one object per thing and serves it in every API that
describes it: an ``events.k8s.io/v1`` Event is a core ``v1`` Event read
through a conversion, so ``kubectl get events`` sees what a client-go event
recorder wrote through either API. A :class:`Conversion` turns an object of
the served form into the stored form and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Object = dict[str, Any]

#: events.k8s.io/v1 field -> core/v1 field, for the fields that differ only by name.
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_CORE_TO_EVENTS = {core: served for served, core in _EVENT_RENAMES.items()}


@dataclass(frozen=True)
class Conversion:
    """How a served form maps to the stored form; the identity by default."""

    stored_api_version: str | None = None
    renames: tuple[tuple[str, str], ...] = ()

    def to_storage(self, obj: Object) -> Object:
        if self.stored_api_version is None:
            return obj
        renamed = dict(self.renames)
        stored = {renamed.get(key, key): value for key, value in obj.items()}
        stored["apiVersion"] = self.stored_api_version
        return stored

    def from_storage(self, obj: Object, api_version: str) -> Object:
        if self.stored_api_version is None:
            return obj
        back = {stored: served for served, stored in self.renames}
        served = {back.get(key, key): value for key, value in obj.items()}
        served["apiVersion"] = api_version
        return served


IDENTITY = Conversion()
_EVENTS_V1 = Conversion(stored_api_version="v1", renames=tuple(_EVENT_RENAMES.items()))


def conversion_for(group: str, plural: str) -> Conversion:
    if (group, plural) == ("events.k8s.io", "events"):
        return _EVENTS_V1
    return IDENTITY
