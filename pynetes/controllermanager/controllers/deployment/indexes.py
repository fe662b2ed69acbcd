"""Informer index of objects by their controller's uid, orphans by namespace.

Upstream's controller-uid index: a sync reads the Deployment's own
ReplicaSets (and the pods of a ReplicaSet) plus the orphans it may adopt,
without scanning the namespace.
"""

from __future__ import annotations

from typing import Any

from pynetes.api.meta import controller_of, namespace_of

Object = dict[str, Any]

CONTROLLER_UID_INDEX = "controllerUID"


def orphans_key(namespace: str) -> str:
    """The index value of ``namespace``'s orphans (no uid contains a ``/``)."""
    return f"orphans/{namespace}"


def by_controller_uid(obj: Object) -> list[str]:
    reference = controller_of(obj)
    if reference is not None:
        return [reference.get("uid") or ""]
    return [orphans_key(namespace_of(obj))]
