"""Taints and tolerations, as upstream's v1 helpers (ToleratesTaint)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Object = dict[str, Any]


def tolerates(toleration: Object, taint: Object) -> bool:
    """Whether one toleration tolerates one taint.

    An empty effect matches every effect; an empty key (with Exists) every
    key; Exists ignores the value, Equal (the default) needs it equal.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(taint: Object, tolerations: Iterable[Object]) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


def first_untolerated(
    taints: Iterable[Object], tolerations: list[Object], effects: frozenset[str]
) -> Object | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None


def node_taints(node: Object | None) -> list[Object]:
    return ((node or {}).get("spec") or {}).get("taints") or []


def pod_tolerations(pod: Object) -> list[Object]:
    return (pod.get("spec") or {}).get("tolerations") or []
