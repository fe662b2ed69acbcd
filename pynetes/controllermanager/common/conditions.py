"""Status conditions as controllers keep them: find, test and set by type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynetes.api.meta import timestamp

Object = dict[str, Any]


def condition(status: Object, kind: str) -> Object | None:
    for found in status.get("conditions") or ():
        if found.get("type") == kind:
            return found
    return None


def is_true(status: Object, kind: str) -> bool:
    found = condition(status, kind)
    return found is not None and found.get("status") == "True"


def set_condition(
    status: Object, kind: str, value: bool, reason: str, message: str, now: datetime
) -> bool:
    """Set condition ``kind`` in ``status``; its transition time moves only when the
    status flips, and nothing is touched when status, reason and message are the same.

    Returns whether anything changed (so callers write the status only then).
    """
    text = "True" if value else "False"
    existing = condition(status, kind)
    if existing is not None and (
        existing.get("status"),
        existing.get("reason"),
        existing.get("message"),
    ) == (text, reason, message):
        return False
    stamp = timestamp(now)
    updated = {
        "type": kind,
        "status": text,
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }
    if existing is not None and existing.get("status") == text:
        updated["lastTransitionTime"] = existing.get("lastTransitionTime", stamp)
    conditions = [c for c in status.get("conditions") or () if c.get("type") != kind]
    status["conditions"] = [*conditions, updated]
    return True
