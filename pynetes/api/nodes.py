"""What every kubelet writes about its node, real or hollow: Lease and condition stamping.

Pure functions of their inputs and ``now``, shared by the kubelet and the hollow
kubelet so that both write the objects a kubelet 1.31 writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pynetes.api.meta import micro_timestamp, timestamp

Object = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
#: The kubelet's nodeLeaseDurationSeconds default.
LEASE_DURATION_SECONDS = 40
#: The order in which the kubelet lists its node conditions.
CONDITION_ORDER = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")


def node_reference(node_name: str) -> Object:
    """The reference a kubelet's Events about its node carry (upstream's nodeRef), whose
    uid is the node's name: the kubelet records them before it knows the Node's uid."""
    return {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_name}


def lease_object(
    node_name: str, node_uid: str, now: datetime, duration_seconds: int = LEASE_DURATION_SECONDS
) -> Object:
    """The node's Lease as the kubelet creates it: held by the node, owned by the Node."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": NODE_LEASE_NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
            ],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": micro_timestamp(now),
        },
    }


def renewed_lease(
    lease: Object, holder: str, now: datetime, duration_seconds: int = LEASE_DURATION_SECONDS
) -> Object:
    """``lease`` (as read) renewed ``now`` by ``holder``: a new object, for a conditional PUT."""
    spec = {
        **(lease.get("spec") or {}),
        "holderIdentity": holder,
        "leaseDurationSeconds": duration_seconds,
        "renewTime": micro_timestamp(now),
    }
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", **lease, "spec": spec}


def stamp_conditions(
    conditions: Iterable[tuple[str, str, str, str]],
    now: datetime,
    previous: list[Object] | None = None,
) -> list[Object]:
    """Node conditions from (type, status, reason, message), heartbeat ``now``.

    A condition whose status is unchanged from ``previous`` keeps its
    lastTransitionTime, as the kubelet keeps it.
    """
    stamp = timestamp(now)
    before = {condition.get("type"): condition for condition in previous or []}
    stamped = []
    for kind, status, reason, message in conditions:
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        stamped.append(
            {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": since or stamp,
                "reason": reason,
                "message": message,
            }
        )
    return stamped
