"""The taints the node lifecycle controller owns, and writing them onto Nodes.

Two taints are identical when their key and effect are (upstream's
MatchTaint): a node holds at most one of each. The NoExecute not-ready and
unreachable taints drive taint-based eviction; the NoSchedule taints mirror
the node's conditions and ``spec.unschedulable`` (TaintNodesByCondition).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pynetes.api.meta import timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)

Object = dict[str, Any]

NODES = built_in("", "v1", "nodes")

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

NOT_READY_NO_EXECUTE: Object = {"key": NOT_READY, "effect": "NoExecute"}
UNREACHABLE_NO_EXECUTE: Object = {"key": UNREACHABLE, "effect": "NoExecute"}

#: Condition type -> {status: taint key}: the NoSchedule taint a condition in that status calls for.
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY, "Unknown": UNREACHABLE},
    "MemoryPressure": {"True": MEMORY_PRESSURE},
    "DiskPressure": {"True": DISK_PRESSURE},
    "NetworkUnavailable": {"True": NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": PID_PRESSURE},
}
_CONDITION_TAINT_KEYS = frozenset(
    key for keys in CONDITION_TAINTS.values() for key in keys.values()
)
#: Writing taints is retried this many times on conflicts (client-go's DefaultRetry steps).
_CONFLICT_RETRIES = 5


def node_taints(node: Object) -> list[Object]:
    return (node.get("spec") or {}).get("taints") or []


def matches(taint: Object, other: Object) -> bool:
    """Same key and effect: the same taint, whatever its value or time."""
    return taint.get("key") == other.get("key") and taint.get("effect") == other.get("effect")


def has_taint(node: Object, template: Object) -> bool:
    return any(matches(taint, template) for taint in node_taints(node))


def wanted_no_schedule_taints(node: Object) -> list[Object]:
    """The NoSchedule taints the node's conditions and ``spec.unschedulable`` call for."""
    wanted = []
    for found in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(found.get("type"), {}).get(found.get("status"))
        if key is not None:
            wanted.append({"key": key, "effect": "NoSchedule"})
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    return wanted


def owned_no_schedule_taints(node: Object) -> list[Object]:
    """The NoSchedule taints on the node that the controller manages."""
    return [
        taint
        for taint in node_taints(node)
        if taint.get("effect") == "NoSchedule"
        and (taint.get("key") == UNSCHEDULABLE or taint.get("key") in _CONDITION_TAINT_KEYS)
    ]


def difference(
    wanted: Sequence[Object], present: Sequence[Object]
) -> tuple[list[Object], list[Object]]:
    """(taints to add, taints to remove) to turn ``present`` into ``wanted``."""
    to_add = [taint for taint in wanted if not any(matches(taint, p) for p in present)]
    to_remove = [taint for taint in present if not any(matches(taint, w) for w in wanted)]
    return to_add, to_remove


def stamped(taints: Iterable[Object], now: float) -> list[Object]:
    """``taints`` with ``timeAdded`` set to ``now``, as upstream stamps every taint it adds."""
    added = timestamp(datetime.fromtimestamp(now, UTC))
    return [{**taint, "timeAdded": added} for taint in taints]


def swapped(
    taints: Sequence[Object], to_add: Sequence[Object], to_remove: Sequence[Object]
) -> list[Object]:
    """``taints`` without ``to_remove`` and with those of ``to_add`` it lacks.

    A taint already there keeps its value and ``timeAdded``: tolerations
    count from when it first appeared.
    """
    kept = [taint for taint in taints if not any(matches(taint, r) for r in to_remove)]
    return kept + [taint for taint in to_add if not any(matches(taint, k) for k in kept)]


async def swap_taints(
    client: ApiClient,
    node: Object,
    to_add: Sequence[Object],
    to_remove: Sequence[Object],
) -> Object | None:
    """Add ``to_add`` to the node's taints and take ``to_remove`` off, in one write.

    ``node`` is the (possibly stale) cached Node: the write carries its
    resourceVersion, and a conflict reads the Node again and retries. The
    Node as written (or as found, if nothing had to change); None if it is
    gone. Other errors propagate.
    """
    name = node["metadata"]["name"]
    current = node
    conflicts = 0
    while True:
        taints = swapped(node_taints(current), to_add, to_remove)
        if taints == node_taints(current):
            return current
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "spec": {"taints": taints or None},
        }
        try:
            return await client.patch(NODES, name, patch)
        except errors.NotFound:
            return None
        except errors.Conflict:
            conflicts += 1
            if conflicts == _CONFLICT_RETRIES:
                raise
            try:
                current = await client.get(NODES, name)
            except errors.NotFound:
                return None
