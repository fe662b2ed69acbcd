"""One sync of one Deployment: its ReplicaSets claimed, the new one found or made, writes.

A :class:`DeploymentSync` holds the working copy of the Deployment for one
pass (upstream's syncDeployment and the sync.go helpers). The strategies
(:mod:`.rolling`, :mod:`.recreate`) call its writes; every write of a
ReplicaSet is a conditional update against the cached resourceVersion, so
a stale cache costs a Conflict and a retry, never a double scale.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynetes.api.labels import selector_from_label_selector
from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import Indexer
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.controller import Result
from pynetes.controllermanager.common.ownership import (
    CONTROLLER_UID_INDEX,
    ControllerRefManager,
    controller_reference,
    orphans_key,
    owner_still_adoptable,
)
from pynetes.controllermanager.controllers.deployment import progress, revision, scaling
from pynetes.controllermanager.controllers.deployment.replicasets import (
    Object,
    active,
    spec_replicas,
    status_count,
)

DEPLOYMENTS = built_in("apps", "v1", "deployments")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
API_VERSION, KIND = "apps/v1", "Deployment"
SCALING_REPLICA_SET = "ScalingReplicaSet"


class RetryLater(Exception):
    """The pass cannot go on with what the cache shows; a later one will (with backoff)."""


@dataclass
class Tools:
    """What every sync shares: the client, the caches, the recorder and the wall clock."""

    client: ApiClient
    replica_sets: Indexer
    recorder: EventRecorder
    wall_clock: Callable[[], float]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), UTC)


class DeploymentSync:
    """One pass over ``deployment`` (a private copy: this pass updates it as it writes)."""

    def __init__(self, tools: Tools, deployment: Object) -> None:
        self.tools = tools
        self.deployment = copy.deepcopy(deployment)
        #: ReplicaSets as this pass wrote them, by uid: fresher than the cache.
        self._written: dict[str, Object] = {}

    @property
    def name(self) -> str:
        return str(self.deployment["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.deployment["metadata"]["namespace"])

    # -- reading -----------------------------------------------------------------

    async def claim_replica_sets(self) -> list[Object]:
        """Its ReplicaSets after adopting matching orphans and releasing strays.

        Only its own and the namespace's orphans are read (an index), so a
        sync costs the Deployment's ReplicaSets, not the namespace's.
        """
        store = self.tools.replica_sets
        uid = self.deployment["metadata"]["uid"]
        candidates = [
            *store.by_index(CONTROLLER_UID_INDEX, uid),
            *store.by_index(CONTROLLER_UID_INDEX, orphans_key(self.namespace)),
        ]
        manager = ControllerRefManager(
            self.tools.client,
            REPLICA_SETS,
            self.deployment,
            API_VERSION,
            KIND,
            selector_from_label_selector(self.deployment["spec"].get("selector")),
            owner_still_adoptable(self.tools.client, DEPLOYMENTS, self.deployment),
        )
        return await manager.claim(candidates)

    async def new_and_old(
        self, replica_sets: list[Object], *, create: bool
    ) -> tuple[Object | None, list[Object]]:
        """(the new ReplicaSet, all old ones); the new one is made if ``create`` (upstream's
        getAllReplicaSetsAndSyncRevision). The new one's revision and the Deployment's are
        brought up to date on the way."""
        replica_sets = [self._written.get(rs["metadata"]["uid"], rs) for rs in replica_sets]
        existing = revision.find_new(self.deployment, replica_sets)
        old = revision.old_ones(replica_sets, existing)
        next_revision = revision.max_revision(old) + 1
        if existing is not None:
            return await self._refresh_new(existing, next_revision), old
        if not create:
            return None, old
        return await self._create_new(old, next_revision), old

    # -- the new ReplicaSet --------------------------------------------------------

    async def _refresh_new(self, replica_set: Object, next_revision: int) -> Object:
        """Bring an existing new ReplicaSet's annotations and minReadySeconds up to date."""
        current = replica_set["metadata"].get("annotations") or {}
        annotations = revision.new_replica_set_annotations(self.deployment, current, next_revision)
        min_ready = self.deployment["spec"].get("minReadySeconds", 0)
        if annotations != current or replica_set["spec"].get("minReadySeconds", 0) != min_ready:
            updated = copy.deepcopy(replica_set)
            updated["metadata"]["annotations"] = annotations
            updated["spec"]["minReadySeconds"] = min_ready
            replica_set = await self._replace(updated)
        await self._record_revision(revision.revision_of(replica_set))
        status = self.deployment.setdefault("status", {})
        if (
            progress.has_progress_deadline(self.deployment)
            and progress.condition(status, progress.PROGRESSING) is None
        ):
            message = f'Found new replica set "{replica_set["metadata"]["name"]}"'
            await self._set_progressing("True", progress.FOUND_NEW_RS, message)
        return replica_set

    async def _create_new(self, old: list[Object], next_revision: int) -> Object:
        """Create the ReplicaSet of the current template (upstream's getNewReplicaSet)."""
        deployment = self.deployment
        new = _replica_set_of(deployment)
        size = scaling.new_replica_set_size(deployment, [*old, new], new)
        new["spec"]["replicas"] = size
        annotations = revision.new_replica_set_annotations(deployment, {}, next_revision)
        annotations.update(revision.replicas_annotations(*self.replicas_bounds()))
        new["metadata"]["annotations"] = annotations
        try:
            created = await self.tools.client.create(REPLICA_SETS, new)
        except errors.AlreadyExists:
            return await self._name_taken(new)
        except errors.ApiError as error:
            if not errors.namespace_terminating(error):
                await self._creation_failed(new, error)
            raise
        if size > 0:
            name = created["metadata"]["name"]
            self.record_scaling(f"Scaled up replica set {name} from 0 to {size}")
        await self._record_revision(next_revision)
        if progress.has_progress_deadline(deployment):
            message = f'Created new replica set "{created["metadata"]["name"]}"'
            await self._set_progressing("True", progress.NEW_RS_CREATED, message)
        return created

    async def _name_taken(self, new: Object) -> Object:
        """The name is taken: ours with this template already, or a hash collision.

        A collision bumps ``status.collisionCount`` so the next sync hashes
        to another name (upstream's collision avoidance).
        """
        found = self.tools.replica_sets.get(f"{self.namespace}/{new['metadata']['name']}")
        if found is None:
            raise RetryLater(f"replica set {new['metadata']['name']} is not in the cache yet")
        owner = controller_of(found)
        ours = owner is not None and owner.get("uid") == self.deployment["metadata"]["uid"]
        if ours and revision.equal_ignoring_hash(
            self.deployment["spec"]["template"], found["spec"]["template"]
        ):
            return found
        status = self.deployment.setdefault("status", {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self.write_status(status)
        raise RetryLater(f"hash collision on replica set {new['metadata']['name']}")

    async def _creation_failed(self, new: Object, error: errors.ApiError) -> None:
        message = f'Failed to create new replica set "{new["metadata"]["name"]}": {error.message}'
        if progress.has_progress_deadline(self.deployment):
            await self._set_progressing("False", progress.FAILED_RS_CREATE, message)
        self.tools.recorder.event(self.deployment, "Warning", progress.FAILED_RS_CREATE, message)

    async def _record_revision(self, number: int) -> None:
        """Write the new ReplicaSet's revision onto the Deployment's annotations.

        A metadata patch: status writes keep metadata as stored.
        """
        annotations = self.deployment["metadata"].get("annotations") or {}
        if annotations.get(revision.REVISION) == str(number):
            return
        patch = {"metadata": {"annotations": {revision.REVISION: str(number)}}}
        updated = await self.tools.client.patch(
            DEPLOYMENTS, self.name, patch, namespace=self.namespace
        )
        self.deployment["metadata"] = updated["metadata"]

    async def _set_progressing(self, state: str, reason: str, message: str) -> None:
        status = self.deployment.setdefault("status", {})
        now = self.tools.now()
        progress.set_condition(
            status, progress.new_condition(progress.PROGRESSING, state, reason, message, now)
        )
        await self.write_status(status)

    # -- writes ------------------------------------------------------------------

    async def write_status(self, status: Object) -> None:
        """Replace the Deployment's status (conditional on the copy's resourceVersion)."""
        body = {**self.deployment, "status": status}
        written = await self.tools.client.replace(DEPLOYMENTS, body, subresource="status")
        self.deployment = written

    async def _replace(self, replica_set: Object) -> Object:
        written = await self.tools.client.replace(REPLICA_SETS, replica_set)
        self._written[written["metadata"]["uid"]] = written
        return written

    def replicas_bounds(self) -> tuple[int, int]:
        """(desired, max) replicas annotations for the ReplicaSets this Deployment scales."""
        desired = scaling.replicas(self.deployment)
        return desired, desired + scaling.max_surge(self.deployment)

    def record_scaling(self, message: str) -> None:
        self.tools.recorder.event(self.deployment, "Normal", SCALING_REPLICA_SET, message)

    async def scale(self, replica_set: Object, size: int, direction: str | None = None) -> Object:
        """Set a ReplicaSet's size (and replicas annotations); an Event when the size changes.

        ``direction`` words the Event ("up"/"down", else from the change).
        Returns the ReplicaSet as it is now.
        """
        old_size = spec_replicas(replica_set)
        bounds = revision.replicas_annotations(*self.replicas_bounds())
        annotations = replica_set["metadata"].get("annotations") or {}
        annotations_stale = any(annotations.get(k) != v for k, v in bounds.items())
        if old_size == size and not annotations_stale:
            return replica_set
        updated = copy.deepcopy(replica_set)
        updated["spec"]["replicas"] = size
        updated["metadata"]["annotations"] = {**annotations, **bounds}
        written = await self._replace(updated)
        if old_size != size:
            direction = direction or ("up" if size > old_size else "down")
            name = written["metadata"]["name"]
            self.record_scaling(f"Scaled {direction} replica set {name} from {old_size} to {size}")
        return written

    async def scale_if_needed(self, replica_set: Object, size: int) -> tuple[bool, Object]:
        """Upstream's scaleReplicaSetAndRecordEvent: (scaled?, the ReplicaSet now)."""
        if spec_replicas(replica_set) == size:
            return False, replica_set
        return True, await self.scale(replica_set, size)

    async def cleanup(self, old: list[Object]) -> None:
        """Delete the oldest old ReplicaSets beyond ``revisionHistoryLimit``.

        Only ReplicaSets fully scaled down, with no pods left and whose
        controller has seen their last change are deleted.
        """
        limit = self.deployment["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        surplus = len(alive) - int(limit)
        for replica_set in revision.by_revision(alive)[: max(surplus, 0)]:
            generation = replica_set["metadata"].get("generation") or 0
            if (
                status_count(replica_set, "replicas") != 0
                or spec_replicas(replica_set) != 0
                or generation > status_count(replica_set, "observedGeneration")
            ):
                continue
            with contextlib.suppress(errors.NotFound):
                await self.tools.client.delete(
                    REPLICA_SETS, replica_set["metadata"]["name"], namespace=self.namespace
                )

    # -- whole passes ------------------------------------------------------------

    async def sync_status_only(self, replica_sets: list[Object]) -> Result:
        """Only the status (a Deployment being deleted)."""
        new, old = await self.new_and_old(replica_sets, create=False)
        return await self.write_status_if_changed(
            progress.calculate_status(self.deployment, [*old, new], new, self.tools.now())
        )

    async def write_status_if_changed(self, status: Object) -> Result:
        if status != self.deployment.get("status"):
            await self.write_status(status)
        return Result()

    async def sync_scale(self, replica_sets: list[Object]) -> Result:
        """Scale only, no rollout (upstream's sync: a paused Deployment, a scaling event)."""
        new, old = await self.new_and_old(replica_sets, create=False)
        await self.scale_all(new, old)
        if self.deployment["spec"].get("paused"):
            await self.cleanup(old)
        return await self.write_status_if_changed(
            progress.calculate_status(self.deployment, [*old, new], new, self.tools.now())
        )

    async def scale_all(self, new: Object | None, old: list[Object]) -> None:
        """Size the ReplicaSets for ``spec.replicas`` (upstream's scale).

        One active (or none: the newest) takes every replica; a saturated
        new one leaves old ones nothing; otherwise, mid-rollout, the change
        is shared in proportion (RollingUpdate only).
        """
        single = scaling.active_or_latest(new, old)
        if single is not None:
            await self.scale_if_needed(single, scaling.replicas(self.deployment))
            return
        if scaling.is_saturated(self.deployment, new):
            for replica_set in active(old):
                await self.scale_if_needed(replica_set, 0)
            return
        if not scaling.is_rolling_update(self.deployment):
            return
        sizes = scaling.proportional_sizes(self.deployment, [*old, new])
        total = sum(size for _, size in sizes)
        direction = "up" if total > sum(spec_replicas(rs) for rs, _ in sizes) else "down"
        for replica_set, size in sizes:
            await self.scale(replica_set, size, direction)

    async def sync_rollout_status(
        self, all_sets: list[Object | None], new: Object | None
    ) -> Result:
        """Write the rollout's status; come back at its deadline if it shows no progress."""
        now = self.tools.now()
        before = self.deployment.get("status") or {}
        status = progress.rollout_status(self.deployment, all_sets, new, now)
        if status == self.deployment.get("status"):
            recheck = progress.stuck_recheck_after(self.deployment, status, now)
            if recheck is None:
                return Result()
            return Result(requeue=True) if recheck == 0 else Result(requeue_after=recheck)
        await self.write_status(status)
        timed_out = progress.newly_timed_out(before, status)
        if timed_out is not None:
            message = timed_out.get("message") or ""
            self.tools.recorder.event(self.deployment, "Warning", progress.TIMED_OUT, message)
        return Result()


def _replica_set_of(deployment: Object) -> Object:
    """The ReplicaSet of ``deployment``'s template, with 0 replicas and no annotations yet.

    Named ``<deployment>-<hash>``; the hash label is added to the template's
    labels and to the selector, so its pods are told apart from other versions'.
    """
    collisions = (deployment.get("status") or {}).get("collisionCount")
    template = copy.deepcopy(deployment["spec"].get("template") or {})
    pod_hash = revision.template_hash(template, collisions)
    template_metadata = template.setdefault("metadata", {})
    labels = {**(template_metadata.get("labels") or {}), revision.POD_TEMPLATE_HASH: pod_hash}
    template_metadata["labels"] = labels
    selector = copy.deepcopy(deployment["spec"].get("selector") or {})
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        revision.POD_TEMPLATE_HASH: pod_hash,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{deployment['metadata']['name']}-{pod_hash}",
            "namespace": deployment["metadata"]["namespace"],
            "labels": dict(labels),
            "ownerReferences": [controller_reference(deployment, API_VERSION, KIND)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": deployment["spec"].get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
    }
