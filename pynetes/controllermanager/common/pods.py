"""Pod states as controllers judge them: active, ready, available, and which to delete first."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pynetes.api.meta import parse_timestamp
from pynetes.api.pods import is_active, is_ready, ready_condition

Object = dict[str, Any]

#: Annotation giving a pod's cost of deletion (lower goes first), as upstream.
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def ready_since(pod: Object) -> datetime | None:
    """When the pod became ready (its Ready condition's transition), None if not ready."""
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_timestamp(condition.get("lastTransitionTime") or "")


def is_available(pod: Object, min_ready_seconds: float, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` at ``now`` (upstream's IsPodAvailable)."""
    return available_in(pod, min_ready_seconds, now) == 0.0


def available_in(pod: Object, min_ready_seconds: float, now: datetime) -> float | None:
    """Seconds from ``now`` until the pod is available: 0 if it is, None if it is not ready.

    A ready pod whose Ready condition has no transition time never becomes
    available by waiting (``math.inf``). One look at the conditions, for
    controllers that count thousands of pods on every sync.
    """
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = parse_timestamp(condition.get("lastTransitionTime") or "")
    if since is None:
        return math.inf
    return max(min_ready_seconds - (now - since).total_seconds(), 0.0)


def deletion_order(
    pods: Sequence[Object], now: datetime, related: Sequence[Object] | None = None
) -> list[Object]:
    """``pods`` ordered from the one to delete first (upstream's ActivePodsWithRanks).

    Unscheduled before scheduled; Pending before Unknown before Running; not
    ready before ready; lower deletion cost first; pods sharing a node with
    more active ``related`` pods first (``related`` defaults to ``pods``;
    upstream's getPodsRankedByRelatedPodsOnSameNode passes the pods of every
    ReplicaSet of the same Deployment); ready for less time first (in
    logarithmic buckets, as LogarithmicScaleDown); more restarts first;
    newer first.
    """
    per_node = Counter(
        (pod.get("spec") or {}).get("nodeName") or ""
        for pod in (pods if related is None else related)
        if is_active(pod)
    )
    return sorted(pods, key=lambda pod: _deletion_key(pod, per_node, now))


def _deletion_key(pod: Object, per_node: Counter[str], now: datetime) -> tuple[Any, ...]:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    node = spec.get("nodeName") or ""
    since = ready_since(pod)
    created = parse_timestamp(pod["metadata"].get("creationTimestamp") or "")
    return (
        bool(node),
        _PHASE_RANK.get(status.get("phase") or "", 0),
        is_ready(pod),
        _deletion_cost(pod),
        -per_node[node] if node else 0,
        _log_bucket(since, now),
        -sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or ()),
        -(created.timestamp() if created else math.inf),
    )


def _deletion_cost(pod: Object) -> int:
    text = (pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _log_bucket(since: datetime | None, now: datetime) -> int:
    """How long a pod has been ready, in powers of two of seconds (never ready: -1)."""
    if since is None:
        return -1
    seconds = max((now - since).total_seconds(), 0.0)
    return int(math.log2(seconds + 1))
