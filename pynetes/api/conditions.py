"""Status conditions: ``metav1.Condition`` lists as upstream's ``meta.SetStatusCondition``
keeps them, and the older per-kind conditions (Job, Node, Pod) controllers set.

One condition per type; ``lastTransitionTime`` moves only when the status
changes, so a reader can tell how long a state has lasted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynetes.api.meta import timestamp

Object = dict[str, Any]


def find_condition(conditions: list[Object] | None, kind: str) -> Object | None:
    for condition in conditions or ():
        if condition.get("type") == kind:
            return condition
    return None


def set_status_condition(conditions: list[Object], new: Object, now: str) -> None:
    """Put ``new`` in ``conditions`` (in place); ``now`` stamps a transition.

    ``new`` has type and status, and whatever else its kind of condition
    carries (reason, message, observedGeneration). An existing condition of
    its type keeps its place and, unless the status changed, its
    lastTransitionTime; its other fields become ``new``'s.
    """
    found = find_condition(conditions, new["type"])
    if found is None:
        conditions.append({**new, "lastTransitionTime": new.get("lastTransitionTime") or now})
        return
    if found.get("status") != new["status"]:
        found["lastTransitionTime"] = new.get("lastTransitionTime") or now
    found.update((key, value) for key, value in new.items() if key != "lastTransitionTime")


def is_true(status: Object, kind: str) -> bool:
    """Whether ``status`` has condition ``kind`` with status True."""
    found = find_condition(status.get("conditions"), kind)
    return found is not None and found.get("status") == "True"


def set_condition(
    status: Object, kind: str, value: bool, reason: str, message: str, now: datetime
) -> bool:
    """Set condition ``kind`` in ``status``; its transition time moves only when the
    status flips, and nothing is touched when status, reason and message are the same.

    Returns whether anything changed (so callers write the status only then).
    """
    text = "True" if value else "False"
    existing = find_condition(status.get("conditions"), kind)
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
