"""How many replicas each ReplicaSet of a Deployment should ask for: the arithmetic.

Pure functions over Deployment and ReplicaSet dicts (upstream's deployment
util): maxSurge and maxUnavailable resolved against ``spec.replicas``, the
new ReplicaSet's next size during a rolling update, and the proportional
split of a scale change across the ReplicaSets of a rollout in progress.
The controller turns their answers into writes.
"""

from __future__ import annotations

import math
from typing import Any

from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    active,
    by_size_newer_first,
    by_size_older_first,
    newest_first,
    pods_in_flight,
    spec_replicas,
    status_count,
    total_spec_replicas,
)
from pynetes.controllermanager.controllers.deployment.revision import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    annotated_int,
)

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"


def replicas(deployment: Object) -> int:
    """``spec.replicas`` (defaulted to 1 by the server)."""
    return int(deployment["spec"].get("replicas", 1))


def strategy_type(deployment: Object) -> str:
    return str((deployment["spec"].get("strategy") or {}).get("type") or ROLLING_UPDATE)


def is_rolling_update(deployment: Object) -> bool:
    return strategy_type(deployment) == ROLLING_UPDATE


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString against ``total``: an int as is, or ``"N%"`` of ``total``.

    Upstream's GetScaledValueFromIntOrPercent.

    Raises ValueError for a string that is not a percentage, as upstream errs.
    """
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: {text!r} is not a percentage")
    share = int(text[:-1]) * total / 100
    return math.ceil(share) if round_up else math.floor(share)


def _rolling(deployment: Object) -> Object:
    return (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}


def fenceposts(deployment: Object) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods: surge rounds up, unavailable down; never both 0."""
    rolling, desired = _rolling(deployment), replicas(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # a rollout must be able to move
    return surge, unavailable


def max_surge(deployment: Object) -> int:
    """Pods allowed above ``spec.replicas`` (0 unless RollingUpdate)."""
    return fenceposts(deployment)[0] if is_rolling_update(deployment) else 0


def max_unavailable(deployment: Object) -> int:
    """Pods allowed below ``spec.replicas``, at most all of them (0 unless RollingUpdate)."""
    desired = replicas(deployment)
    if not is_rolling_update(deployment) or desired == 0:
        return 0
    return min(fenceposts(deployment)[1], desired)


def new_replica_set_size(deployment: Object, all_sets: list[Object | None], new: Object) -> int:
    """How many replicas the new ReplicaSet may ask for now (upstream's NewRSNewReplicas).

    RollingUpdate: as many as fit under ``replicas + maxSurge`` counting
    every ReplicaSet's pods in flight, never beyond ``replicas``. Recreate: ``replicas``.
    """
    desired = replicas(deployment)
    if not is_rolling_update(deployment):
        return desired
    surge = scaled_value(_rolling(deployment).get("maxSurge", "25%"), desired, round_up=True)
    room = desired + surge - sum(pods_in_flight(rs) for rs in all_sets)
    current = spec_replicas(new)
    if room <= 0:
        return current
    return current + min(room, desired - current)


def is_saturated(deployment: Object, replica_set: Object | None) -> bool:
    """The ReplicaSet asks for, was told of, and has available all the Deployment's replicas."""
    if replica_set is None:
        return False
    desired = replicas(deployment)
    return (
        spec_replicas(replica_set) == desired
        and annotated_int(replica_set, DESIRED_REPLICAS) == desired
        and status_count(replica_set, "availableReplicas") == desired
    )


def active_or_latest(new: Object | None, old: list[Object]) -> Object | None:
    """The one ReplicaSet to give every replica to, if there is one (FindActiveOrLatest).

    The only active one; with none active, the new one or else the newest
    old one; None when several are active (a rollout in progress).
    """
    if new is None and not old:
        return None
    ordered_old = newest_first(old)
    running = active([*ordered_old, new])
    if len(running) == 1:
        return running[0]
    if not running:
        return new if new is not None else ordered_old[0]
    return None


def is_scaling_event(deployment: Object, replica_sets: list[Object | None]) -> bool:
    """An active ReplicaSet was sized for another ``spec.replicas`` (isScalingEvent)."""
    desired = replicas(deployment)
    for replica_set in active(replica_sets):
        annotated = annotated_int(replica_set, DESIRED_REPLICAS)
        if annotated is not None and annotated != desired:
            return True
    return False


def _round_half_away(value: float) -> int:
    """Go's math.Round."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _fraction(replica_set: Object, deployment: Object) -> int:
    """The change of ``replica_set``'s size that keeps its share (getReplicaSetFraction)."""
    desired = replicas(deployment)
    size = spec_replicas(replica_set)
    if desired == 0:
        return -size
    allowed = desired + max_surge(deployment)
    annotated = annotated_int(replica_set, MAX_REPLICAS)
    if annotated is None:
        annotated = int((deployment.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0  # nothing to be proportional to
    return _round_half_away(size * allowed / annotated) - size


def proportional_sizes(
    deployment: Object, replica_sets: list[Object | None]
) -> list[tuple[Object, int]]:
    """Each active ReplicaSet with its new size after a scale change mid-rollout.

    Upstream's scale for RollingUpdate: the total may be ``replicas +
    maxSurge``; the difference is split in proportion to each ReplicaSet's
    share of the size it was last scaled for (its max-replicas annotation),
    largest first (newer first when adding, older first when removing), and
    what rounding leaves over goes to the first one.
    """
    running = active(replica_sets)
    desired = replicas(deployment)
    allowed = desired + max_surge(deployment) if desired > 0 else 0
    to_add = allowed - total_spec_replicas(running)
    if to_add > 0:
        running = by_size_newer_first(running)
    elif to_add < 0:
        running = by_size_older_first(running)
    sizes: list[tuple[Object, int]] = []
    added = 0
    for replica_set in running:
        share = 0
        if to_add != 0 and spec_replicas(replica_set) != 0 and to_add != added:
            fraction, left = _fraction(replica_set, deployment), to_add - added
            share = min(fraction, left) if to_add > 0 else max(fraction, left)
        sizes.append((replica_set, spec_replicas(replica_set) + share))
        added += share
    if sizes and to_add != 0:
        first, size = sizes[0]
        sizes[0] = (first, max(size + to_add - added, 0))
    return sizes
