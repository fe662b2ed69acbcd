"""Node health: when each node was last heard from, and its conditions once it falls silent.

A kubelet is heard from when its Ready condition's ``lastHeartbeatTime``
changes or its Lease in ``kube-node-lease`` is renewed. As upstream, the
controller dates each such change by its own wall clock when it notices
it, never by the timestamps the kubelet wrote: clocks on the nodes may be
wrong. A node not heard from for its grace period (the startup grace
period while it has never posted a Ready condition) is silent: its
conditions are set Unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynetes.api.conditions import find_condition
from pynetes.api.meta import parse_timestamp, timestamp

Object = dict[str, Any]

#: The conditions set Unknown when a kubelet falls silent (NetworkUnavailable is not the kubelet's).
SILENCED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
STOPPED_REASON = "NodeStatusUnknown"
STOPPED_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."


@dataclass
class _Heard:
    """What was last seen of one node, and when (by the controller's wall clock)."""

    probe: float
    heartbeat: str | None = None
    has_ready: bool = False
    renewed: datetime | None = None


def ready_condition(node: Object) -> Object | None:
    """The node's Ready condition, if its kubelet (or this controller) posted one."""
    return find_condition((node.get("status") or {}).get("conditions"), "Ready")


def _created(node: Object, fallback: float) -> float:
    created = parse_timestamp((node.get("metadata") or {}).get("creationTimestamp") or "")
    return fallback if created is None else created.timestamp()


class HealthTracker:
    """When each node was last heard from; :meth:`silent` says whether it has fallen silent."""

    def __init__(self, grace_period: float, startup_grace_period: float) -> None:
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self._heard: dict[str, _Heard] = {}

    def silent(self, node: Object, lease: Object | None, now: float) -> bool:
        """Note what ``node`` and its ``lease`` show at ``now``; whether the node is silent."""
        name = node["metadata"]["name"]
        ready = ready_condition(node)
        heard = self._heard.get(name)
        if heard is None:
            # a node never heard from counts from its creation, one found ready from now
            heard = _Heard(probe=_created(node, now) if ready is None else now)
        elif (ready is None) != (not heard.has_ready) or (
            ready is not None and ready.get("lastHeartbeatTime") != heard.heartbeat
        ):
            heard.probe = now
        heard.has_ready = ready is not None
        heard.heartbeat = None if ready is None else ready.get("lastHeartbeatTime")
        renewed = parse_timestamp(((lease or {}).get("spec") or {}).get("renewTime") or "")
        if renewed is not None and (heard.renewed is None or renewed > heard.renewed):
            heard.renewed = renewed
            heard.probe = now
        self._heard[name] = heard
        grace = self.grace_period if ready is not None else self.startup_grace_period
        return now > heard.probe + grace

    def written(self, node: Object) -> None:
        """The controller wrote ``node``'s conditions: its own write is no heartbeat."""
        heard = self._heard.get(node["metadata"]["name"])
        ready = ready_condition(node)
        if heard is not None and ready is not None:
            heard.has_ready = True
            heard.heartbeat = ready.get("lastHeartbeatTime")

    def heard_all_at(self, now: float) -> None:
        """Count every node as heard from at ``now`` (leaving full disruption, as upstream)."""
        for heard in self._heard.values():
            heard.probe = now

    def forget(self, name: str) -> None:
        self._heard.pop(name, None)


def silenced_conditions(node: Object, now: float) -> list[Object]:
    """The node's conditions with those a kubelet reports set Unknown as of ``now``.

    A condition the kubelet never posted is added; one already Unknown is
    left as it is; the others keep their heartbeat and change status,
    reason, message and transition time.
    """
    stamp = timestamp(datetime.fromtimestamp(now, UTC))
    conditions = [dict(found) for found in (node.get("status") or {}).get("conditions") or []]
    by_type = {found.get("type"): found for found in conditions}
    created = (node.get("metadata") or {}).get("creationTimestamp")
    for kind in SILENCED_CONDITIONS:
        found = by_type.get(kind)
        if found is None:
            conditions.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "lastHeartbeatTime": created,
                    "lastTransitionTime": stamp,
                    "reason": NEVER_REASON,
                    "message": NEVER_MESSAGE,
                }
            )
        elif found.get("status") != "Unknown":
            found.update(
                status="Unknown",
                reason=STOPPED_REASON,
                message=STOPPED_MESSAGE,
                lastTransitionTime=stamp,
            )
    return conditions
