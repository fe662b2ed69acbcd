"""``metadata.managedFields``: its entries, read and written as upstream does.

Entries are keyed by a manager identity: the manager, the operation, the
subresource, and (for updates only) the apiVersion, so that an applier has
one entry whatever version it applies with, while an updater has one per
version. The identity is spelled as upstream spells it (the entry as JSON
without time and fields), because conflict messages sort managers by it.

The entries are written sorted by operation (Apply first), then time,
manager, apiVersion and subresource; an object nobody manages has no
``managedFields`` at all.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any, Final

from pynetes.api.fieldmanager import gojson
from pynetes.api.fieldmanager.fieldset import FieldSet

APPLY: Final = "Apply"
UPDATE: Final = "Update"
FIELDS_V1: Final = "FieldsV1"

# At most this many Update entries are kept; the oldest merge into "ancient-changes".
MAX_UPDATE_MANAGERS: Final = 10
ANCIENT_CHANGES: Final = "ancient-changes"

_ENTRY_KEYS = (
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
)


@dataclass(frozen=True)
class Entry:
    """One ``managedFields`` entry; ``time`` is RFC 3339 in UTC, or None."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    fields: FieldSet
    time: str | None = None

    @property
    def identity(self) -> str:
        return identity(self.manager, self.operation, self.api_version, self.subresource)


Managed = dict[str, Entry]


@functools.lru_cache(maxsize=1024)
def identity(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """The key of an entry, as upstream's ``BuildManagerIdentifier`` spells it
    (remembered: every write asks it for the same few managers)."""
    parts = []
    if manager:
        parts.append('"manager":' + gojson.dumps(manager))
    parts.append('"operation":' + gojson.dumps(operation))
    if operation != APPLY and api_version:
        parts.append('"apiVersion":' + gojson.dumps(api_version))
    if subresource:
        parts.append('"subresource":' + gojson.dumps(subresource))
    return "{" + ",".join(parts) + "}"


def is_reset(raw: Any) -> bool:
    """Whether a client asks to clear managedFields: ``[]`` or one empty entry (``[{}]``)."""
    if not isinstance(raw, list) or len(raw) > 1:
        return False
    if not raw or raw[0] is None:
        return True
    return isinstance(raw[0], dict) and all(raw[0].get(key) in ("", None) for key in _ENTRY_KEYS)


def decode(raw: Any) -> Managed:
    """The entries of a ``managedFields`` list; ValueError when one is invalid."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    managed: Managed = {}
    for index, item in enumerate(raw):
        entry = _decode_entry(index, item)
        managed[entry.identity] = entry
    return managed


def _decode_entry(index: int, item: Any) -> Entry:
    if not isinstance(item, dict):
        raise ValueError(f"managed fields entry {index} is not an object")
    operation = item.get("operation")
    if operation not in (APPLY, UPDATE):
        raise ValueError("operation must be `Apply` or `Update`")
    api_version = item.get("apiVersion")
    if not api_version or not isinstance(api_version, str):
        raise ValueError("apiVersion must not be empty")
    fields_type = item.get("fieldsType")
    if not fields_type:
        raise ValueError(f"missing fieldsType in managed fields entry {index}")
    if fields_type != FIELDS_V1:
        raise ValueError(f'invalid fieldsType "{fields_type}" in managed fields entry {index}')
    manager = item.get("manager") or ""
    subresource = item.get("subresource") or ""
    if not isinstance(manager, str) or not isinstance(subresource, str):
        raise ValueError(f"managed fields entry {index} has a non-string manager or subresource")
    document = item.get("fieldsV1")
    fields = FieldSet() if document is None else FieldSet.from_fields_v1(document)
    time = item.get("time")
    return Entry(
        manager, operation, api_version, subresource, fields, None if time is None else _utc(time)
    )


def _utc(text: Any) -> str:
    """An RFC 3339 time as upstream writes it: UTC, whole seconds, ``Z``."""
    if not isinstance(text, str):
        raise ValueError(f"invalid time {text!r}")
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text} has no time zone")
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=256)
def _seconds(time: str | None) -> int:
    """Whole seconds since the epoch (remembered: parsing cost more than the sorts it keys)."""
    if time is None:
        return 0
    return int(datetime.datetime.fromisoformat(time).timestamp())


def encode(managed: Managed) -> list[dict[str, Any]] | None:
    """The ``managedFields`` list, None when nobody manages anything."""
    if not managed:
        return None
    ordered = sorted(
        managed.values(),
        key=lambda entry: (
            entry.operation,
            _seconds(entry.time),
            entry.manager,
            entry.api_version,
            entry.subresource,
        ),
    )
    return [_encode_entry(entry) for entry in ordered]


def _encode_entry(entry: Entry) -> dict[str, Any]:
    return encode_entry(
        entry.manager,
        entry.operation,
        entry.api_version,
        entry.time,
        entry.fields.to_fields_v1(),
        entry.subresource,
    )


def encode_entry(
    manager: str,
    operation: str,
    api_version: str,
    time: str | None,
    fields_v1: dict[str, Any],
    subresource: str = "",
) -> dict[str, Any]:
    """One ``managedFields`` entry, its keys in upstream's order."""
    encoded: dict[str, Any] = {}
    if manager:
        encoded["manager"] = manager
    encoded["operation"] = operation
    encoded["apiVersion"] = api_version
    if time is not None:
        encoded["time"] = time
    encoded["fieldsType"] = FIELDS_V1
    encoded["fieldsV1"] = fields_v1
    if subresource:
        encoded["subresource"] = subresource
    return encoded


def cap_update_managers(managed: Managed) -> Managed:
    """At most MAX_UPDATE_MANAGERS Update entries: the oldest merge into
    per-version ``ancient-changes`` entries, as upstream's capManagersManager does."""
    updaters = [key for key, entry in managed.items() if entry.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    updaters.sort(key=lambda key: (_seconds(managed[key].time), key))
    capped = dict(managed)
    remaining = len(updaters)
    first_of_version: dict[str, str] = {}
    for key in updaters:
        if remaining <= MAX_UPDATE_MANAGERS:
            break
        entry = capped[key]
        version = entry.api_version
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = key
            continue
        bucket_key = identity(ANCIENT_CHANGES, UPDATE, version, "")
        bucket = capped.pop(first) if bucket_key not in capped else capped[bucket_key]
        capped[bucket_key] = Entry(
            ANCIENT_CHANGES, UPDATE, version, "", entry.fields.union(bucket.fields), entry.time
        )
        del capped[key]
        remaining -= 1
    return capped
