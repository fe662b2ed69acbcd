"""A Deployment's ReplicaSets as the controller counts and orders them.

Plain readers over ReplicaSet dicts (upstream's deployment util and
controller_utils sorters): replica counts from spec and status, the
orderings scaling uses, and the filters. ``None`` stands for "no new
ReplicaSet yet" wherever a list may hold one, as upstream's nil pointer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Object = dict[str, Any]


def spec_replicas(replica_set: Object | None) -> int:
    """``spec.replicas`` (defaulted to 1 by the server, 0 for no ReplicaSet)."""
    if replica_set is None:
        return 0
    return int((replica_set.get("spec") or {}).get("replicas", 1))


def status_count(replica_set: Object | None, field: str) -> int:
    """A ``status`` counter (``replicas``, ``readyReplicas``, ``availableReplicas``...)."""
    if replica_set is None:
        return 0
    return int((replica_set.get("status") or {}).get(field) or 0)


def pods_in_flight(replica_set: Object | None) -> int:
    """The pods a ReplicaSet may have now: those asked for, or more while it still reports them.

    A ReplicaSet just scaled down keeps its pods until its controller deletes
    them and reports so; counting them keeps a rolling update from surging
    past ``maxSurge`` in that moment (upstream counts ``spec.replicas`` only).
    """
    return max(spec_replicas(replica_set), status_count(replica_set, "replicas"))


def available_kept(replica_set: Object | None) -> int:
    """Available replicas that scaling leaves: no more than ``spec.replicas``.

    A ReplicaSet just scaled down may still report as available the pods it
    is deleting; they must not count as availability to spare, or a rolling
    update would drop below ``replicas - maxUnavailable`` (upstream trusts
    ``status.availableReplicas`` as written).
    """
    return min(status_count(replica_set, "availableReplicas"), spec_replicas(replica_set))


def total_spec_replicas(replica_sets: Iterable[Object | None]) -> int:
    """Upstream's GetReplicaCountForReplicaSets: the replicas asked for."""
    return sum(spec_replicas(rs) for rs in replica_sets)


def total_status(replica_sets: Iterable[Object | None], field: str) -> int:
    """A status counter summed (GetActualReplicaCount, GetAvailableReplicaCount, ...)."""
    return sum(status_count(rs, field) for rs in replica_sets)


def active(replica_sets: Iterable[Object | None]) -> list[Object]:
    """Upstream's FilterActiveReplicaSets: those asking for at least one replica."""
    return [rs for rs in replica_sets if rs is not None and spec_replicas(rs) > 0]


def _created(replica_set: Object) -> str:
    # RFC 3339 timestamps in UTC with whole seconds sort as text
    return replica_set["metadata"].get("creationTimestamp") or ""


def _name(replica_set: Object) -> str:
    return str(replica_set["metadata"]["name"])


def by_creation(replica_sets: Iterable[Object]) -> list[Object]:
    """Oldest first, ties by name (upstream's ReplicaSetsByCreationTimestamp)."""
    return sorted(replica_sets, key=lambda rs: (_created(rs), _name(rs)))


def newest_first(replica_sets: Iterable[Object]) -> list[Object]:
    """The reverse of :func:`by_creation`."""
    return by_creation(replica_sets)[::-1]


def by_size_older_first(replica_sets: Iterable[Object]) -> list[Object]:
    """Largest first, ties oldest first (ReplicaSetsBySizeOlder: scaling down)."""
    return sorted(by_creation(replica_sets), key=spec_replicas, reverse=True)


def by_size_newer_first(replica_sets: Iterable[Object]) -> list[Object]:
    """Largest first, ties newest first (ReplicaSetsBySizeNewer: scaling up)."""
    return sorted(newest_first(replica_sets), key=spec_replicas, reverse=True)
