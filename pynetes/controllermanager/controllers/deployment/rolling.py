"""The RollingUpdate strategy: scale the new ReplicaSet up and the old ones down in steps.

Each pass takes one step (upstream's rolloutRolling): scale the new
ReplicaSet up as far as ``replicas + maxSurge`` allows; if it could not
move, scale old ReplicaSets down as far as ``replicas - maxUnavailable``
available pods allow, their unavailable replicas first. ReplicaSet status
changes bring the next pass. So total pods never exceed ``replicas +
maxSurge`` and available pods never drop below ``replicas -
maxUnavailable`` because of the rollout; to keep that true while a
ReplicaSet's status still counts pods being deleted, the pods counted are
those in flight and the availability counted is what each ReplicaSet's
size keeps (see :mod:`.replicasets`).
"""

from __future__ import annotations

from pynetes.controller import Result
from pynetes.controllermanager.controllers.deployment import progress, scaling
from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    active,
    available_kept,
    by_creation,
    spec_replicas,
    total_spec_replicas,
)
from pynetes.controllermanager.controllers.deployment.sync import DeploymentSync


async def rollout_rolling(sync: DeploymentSync, replica_sets: list[Object]) -> Result:
    new, old = await sync.new_and_old(replica_sets, create=True)
    all_sets: list[Object | None] = [*old, new]
    if new is not None and await _reconcile_new(sync, all_sets, new):
        return await sync.sync_rollout_status(all_sets, new)
    if await _reconcile_old(sync, all_sets, active(old), new):
        return await sync.sync_rollout_status(all_sets, new)
    if progress.is_complete(sync.deployment, sync.deployment.get("status") or {}):
        await sync.cleanup(old)
    return await sync.sync_rollout_status(all_sets, new)


async def _reconcile_new(sync: DeploymentSync, all_sets: list[Object | None], new: Object) -> bool:
    """Scale the new ReplicaSet towards ``replicas`` within the surge; True if it moved."""
    desired = scaling.replicas(sync.deployment)
    size = spec_replicas(new)
    if size == desired:
        return False
    if size > desired:
        return (await sync.scale_if_needed(new, desired))[0]
    target = scaling.new_replica_set_size(sync.deployment, all_sets, new)
    return (await sync.scale_if_needed(new, target))[0]


async def _reconcile_old(
    sync: DeploymentSync, all_sets: list[Object | None], old: list[Object], new: Object | None
) -> bool:
    """Scale old ReplicaSets down as availability allows; True if any moved.

    Room to scale down is what exceeds ``replicas - maxUnavailable`` once
    the new ReplicaSet's unavailable replicas are counted out. Unhealthy
    old replicas go first: removing them costs no availability (upstream's
    cleanupUnhealthyReplicas), and a rollout stuck on them moves again.
    """
    if total_spec_replicas(old) == 0:
        return False
    deployment = sync.deployment
    min_available = scaling.replicas(deployment) - scaling.max_unavailable(deployment)
    new_unavailable = spec_replicas(new) - available_kept(new)
    room = total_spec_replicas(all_sets) - min_available - new_unavailable
    if room <= 0:
        return False
    old, cleaned = await _scale_down_unhealthy(sync, old, room)
    scaled = await _scale_down_for_availability(sync, [*old, new], old)
    return cleaned + scaled > 0


async def _scale_down_unhealthy(
    sync: DeploymentSync, old: list[Object], limit: int
) -> tuple[list[Object], int]:
    """Remove up to ``limit`` unavailable replicas of old ReplicaSets, oldest first."""
    remaining: list[Object] = []
    removed = 0
    for replica_set in by_creation(old):
        size = spec_replicas(replica_set)
        unavailable = size - available_kept(replica_set)
        if removed < limit and size != 0 and unavailable > 0:
            step = min(limit - removed, unavailable)
            replica_set = (await sync.scale_if_needed(replica_set, size - step))[1]
            removed += step
        remaining.append(replica_set)
    return remaining, removed


async def _scale_down_for_availability(
    sync: DeploymentSync, all_sets: list[Object | None], old: list[Object]
) -> int:
    """Remove old replicas while available ones exceed ``replicas - maxUnavailable``."""
    deployment = sync.deployment
    min_available = scaling.replicas(deployment) - scaling.max_unavailable(deployment)
    surplus = sum(available_kept(rs) for rs in all_sets) - min_available
    removed = 0
    for replica_set in by_creation(old):
        if removed >= surplus:
            break
        size = spec_replicas(replica_set)
        if size == 0:
            continue
        step = min(size, surplus - removed)
        await sync.scale_if_needed(replica_set, size - step)
        removed += step
    return max(removed, 0)
