"""The deployment controller: watches Deployments, their ReplicaSets and pods; syncs one at a time.

Upstream's DeploymentController.syncDeployment decides what a pass does:
a Deployment being deleted gets its status only; a paused one or one whose
``spec.replicas`` changed is scaled without rolling out; otherwise its
strategy takes a step. ReplicaSet events wake their Deployment (an
orphan's: every Deployment whose selector matches it), and for Recreate a
pod's deletion does, since its next step waits for old pods to be gone.
"""

from __future__ import annotations

import logging
from typing import Any

from pynetes.api.labels import selector_from_label_selector
from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Result
from pynetes.controllermanager.common.ownership import (
    CONTROLLER_UID_INDEX,
    by_controller_uid,
)
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.deployment import progress, scaling
from pynetes.controllermanager.controllers.deployment.recreate import rollout_recreate
from pynetes.controllermanager.controllers.deployment.rolling import rollout_rolling
from pynetes.controllermanager.controllers.deployment.sync import (
    DEPLOYMENTS,
    KIND,
    REPLICA_SETS,
    DeploymentSync,
    RetryLater,
    Tools,
)

log = logging.getLogger(__name__)

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
WORKERS_FLAG = "--concurrent-deployment-syncs"
DEFAULT_WORKERS = 5


class DeploymentController:
    """Keeps every Deployment's ReplicaSets and status as its spec asks."""

    def __init__(self, context: ControllerContext) -> None:
        deployments = context.informers.informer(DEPLOYMENTS)
        replica_sets = context.informers.informer(
            REPLICA_SETS, indexers={CONTROLLER_UID_INDEX: by_controller_uid}
        )
        pods = context.informers.informer(PODS, indexers={CONTROLLER_UID_INDEX: by_controller_uid})
        self._deployments = Lister(deployments.store)
        self._replica_sets = Lister(replica_sets.store)
        self._pods = pods.store
        self._tools = Tools(
            context.client,
            replica_sets.store,
            context.recorder("deployment-controller"),
            context.wall_clock,
        )
        option = WORKERS_FLAG.removeprefix("--").replace("-", "_")
        workers = context.workers(option, DEFAULT_WORKERS)
        self._controller = Controller(
            "deployment", self._sync, workers=workers, queue=context.queue("deployment")
        )
        deployments.add_event_handler(
            EventHandler(
                on_add=self._enqueue,
                on_update=lambda _old, new: self._enqueue(new),
                on_delete=self._enqueue,
            )
        )
        replica_sets.add_event_handler(
            EventHandler(
                on_add=self._replica_set_added,
                on_update=self._replica_set_updated,
                on_delete=self._replica_set_deleted,
            )
        )
        pods.add_event_handler(EventHandler(on_delete=self._pod_deleted))

    async def run(self) -> None:
        await self._controller.run()

    # -- events ------------------------------------------------------------------

    def _enqueue(self, deployment: Object) -> None:
        self._controller.queue.add(object_key(deployment))

    def _owner(self, replica_set: Object) -> Object | None:
        """The Deployment controlling ``replica_set`` (None if none, or another by that name)."""
        reference = controller_of(replica_set)
        if reference is None or reference.get("kind") != KIND:
            return None
        deployment = self._deployments.get(
            reference.get("name") or "", replica_set["metadata"]["namespace"]
        )
        if deployment is None or deployment["metadata"]["uid"] != reference.get("uid"):
            return None
        return deployment

    def _enqueue_owner_or_adopters(self, replica_set: Object) -> None:
        """Wake its Deployment; an orphan wakes every Deployment that could adopt it."""
        if controller_of(replica_set) is not None:
            owner = self._owner(replica_set)
            if owner is not None:
                self._enqueue(owner)
            return
        labels = replica_set["metadata"].get("labels")
        for deployment in self._deployments.list(replica_set["metadata"]["namespace"]):
            try:
                selector = selector_from_label_selector(deployment["spec"].get("selector"))
            except errors.ApiError:
                continue
            if not selector.empty and selector.matches(labels):
                self._enqueue(deployment)

    def _replica_set_added(self, replica_set: Object) -> None:
        self._enqueue_owner_or_adopters(replica_set)

    def _replica_set_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return  # a resync: nothing changed
        old_reference, new_reference = controller_of(old), controller_of(new)
        if old_reference is not None and old_reference != new_reference:
            owner = self._owner(old)
            if owner is not None:
                self._enqueue(owner)
        relabelled = old["metadata"].get("labels") != new["metadata"].get("labels")
        if new_reference is not None or relabelled or old_reference is not None:
            self._enqueue_owner_or_adopters(new)

    def _replica_set_deleted(self, replica_set: Object) -> None:
        owner = self._owner(replica_set)
        if owner is not None:
            self._enqueue(owner)

    def _pod_deleted(self, pod: Object) -> None:
        """Recreate waits for old pods to be gone: a pod's deletion may let it go on."""
        reference = controller_of(pod)
        if reference is None or reference.get("kind") != "ReplicaSet":
            return
        replica_set = self._replica_sets.get(
            reference.get("name") or "", pod["metadata"]["namespace"]
        )
        if replica_set is None or replica_set["metadata"]["uid"] != reference.get("uid"):
            return
        owner = self._owner(replica_set)
        if owner is not None and scaling.strategy_type(owner) == scaling.RECREATE:
            self._enqueue(owner)

    # -- sync --------------------------------------------------------------------

    def _pods_of(self, replica_set_uid: str) -> list[Object]:
        return self._pods.by_index(CONTROLLER_UID_INDEX, replica_set_uid)

    async def _sync(self, key: str) -> Result:
        namespace, _, name = key.rpartition("/")
        deployment = self._deployments.get(name, namespace)
        if deployment is None:
            return Result()
        try:
            return await self._sync_deployment(DeploymentSync(self._tools, deployment))
        except (errors.Conflict, errors.NotFound, RetryLater) as error:
            # a stale cache or a concurrent change: the next pass sees the news
            log.debug("deployment %s: %s; retrying", key, error)
            return Result(requeue=True)

    async def _sync_deployment(self, sync: DeploymentSync) -> Result:
        """One pass, as upstream's syncDeployment chooses it."""
        deployment = sync.deployment
        replica_sets = await sync.claim_replica_sets()
        if deployment["metadata"].get("deletionTimestamp"):
            return await sync.sync_status_only(replica_sets)
        await self._note_pause(sync)
        if deployment["spec"].get("paused"):
            return await sync.sync_scale(replica_sets)
        new, old = await sync.new_and_old(replica_sets, create=False)
        if scaling.is_scaling_event(sync.deployment, [*old, new]):
            return await sync.sync_scale(replica_sets)
        if scaling.strategy_type(sync.deployment) == scaling.RECREATE:
            return await rollout_recreate(sync, replica_sets, self._pods_of)
        return await rollout_rolling(sync, replica_sets)

    @staticmethod
    async def _note_pause(sync: DeploymentSync) -> None:
        """Progressing says DeploymentPaused while paused, DeploymentResumed after
        (upstream's checkPausedConditions); a timed-out rollout keeps saying so."""
        deployment = sync.deployment
        if not progress.has_progress_deadline(deployment):
            return
        status = dict(deployment.get("status") or {})
        current = progress.condition(status, progress.PROGRESSING)
        if current is not None and current.get("reason") == progress.TIMED_OUT:
            return
        was_paused = current is not None and current.get("reason") == progress.PAUSED
        paused = bool(deployment["spec"].get("paused"))
        if paused == was_paused:
            return
        reason, message = (
            (progress.PAUSED, "Deployment is paused")
            if paused
            else (progress.RESUMED, "Deployment is resumed")
        )
        now = sync.tools.now()
        progress.set_condition(
            status, progress.new_condition(progress.PROGRESSING, "Unknown", reason, message, now)
        )
        await sync.write_status(status)
