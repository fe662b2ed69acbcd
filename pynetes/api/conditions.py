"""``metav1.Condition`` lists as upstream's ``meta.SetStatusCondition`` keeps them.

One condition per type; ``lastTransitionTime`` moves only when the status
changes, so a reader can tell how long a state has lasted.
"""

from __future__ import annotations

from typing import Any

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
