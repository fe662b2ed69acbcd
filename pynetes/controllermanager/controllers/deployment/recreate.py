"""The Recreate strategy: every old pod gone before any new one is made.

Upstream's rolloutRecreate: scale old ReplicaSets to 0; wait until their
pods are gone (not merely asked to stop: a pod still terminating counts);
only then make the new ReplicaSet and scale it to ``replicas``.
"""

from __future__ import annotations

from collections.abc import Callable

from pynetes.controller import Result
from pynetes.controllermanager.controllers.deployment import progress, scaling
from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    active,
    total_status,
)
from pynetes.controllermanager.controllers.deployment.sync import DeploymentSync

#: Pods of a ReplicaSet (by the ReplicaSet's uid), from the pod cache.
PodsOf = Callable[[str], list[Object]]


async def rollout_recreate(
    sync: DeploymentSync, replica_sets: list[Object], pods_of: PodsOf
) -> Result:
    new, old = await sync.new_and_old(replica_sets, create=False)
    scaled_down = False
    for replica_set in active(old):
        scaled_down = (await sync.scale_if_needed(replica_set, 0))[0] or scaled_down
    if scaled_down or _old_pods_running(old, pods_of):
        return await sync.sync_rollout_status([*old, new], new)
    if new is None:
        new, old = await sync.new_and_old(replica_sets, create=True)
    if new is not None:
        await sync.scale_if_needed(new, scaling.replicas(sync.deployment))
    if progress.is_complete(sync.deployment, sync.deployment.get("status") or {}):
        await sync.cleanup(old)
    return await sync.sync_rollout_status([*old, new], new)


def _old_pods_running(old: list[Object], pods_of: PodsOf) -> bool:
    """Old ReplicaSets still report pods, or pods of theirs that have not finished exist."""
    if total_status(old, "replicas") > 0:
        return True
    return any(
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        for replica_set in old
        for pod in pods_of(replica_set["metadata"]["uid"])
    )
