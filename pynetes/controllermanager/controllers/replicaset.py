"""The replicaset controller: keep ``spec.replicas`` active pods for every ReplicaSet.

As upstream's ReplicaSetController, which also runs ReplicationControllers
(see :mod:`.replicationcontroller`): one implementation parameterised by a
:class:`ReplicaKind`. A sync claims the pods (adopts matching orphans,
releases its pods that stopped matching), creates the missing ones in slow
start batches or deletes the surplus in :func:`deletion_order`, then writes
the status through the status subresource when it changed.

Expectations keep a sync from acting on a cache that has not seen its own
creates and deletes yet: a sync that created 500 pods waits until the
informer delivered them. Pods being deleted or terminal do not count, so
replacements are made as soon as a deletion starts. Pods are read through
an index by controller uid (and orphans by namespace): a sync costs the
size of its own ReplicaSet, not of the namespace.

A create or delete the API refuses (a quota, a template it will not
admit) records a Warning Event and sets the ReplicaFailure condition; the
key then comes back with the queue's per-item backoff, never in a hot loop,
and the condition goes once a sync succeeds. A ReplicaSet being deleted
creates and deletes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pynetes.api.labels import Selector, selector_from_label_selector, selector_from_set
from pynetes.api.meta import controller_of, timestamp
from pynetes.api.pods import is_active
from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import NAMESPACE_INDEX, object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient, resource_path
from pynetes.controller import Controller, Expectations, Result, UIDTrackingExpectations
from pynetes.controllermanager.common.ownership import (
    CONTROLLER_UID_INDEX,
    ControllerRefManager,
    by_controller_uid,
    controlling_owner,
    orphans_key,
    owner_still_adoptable,
)
from pynetes.controllermanager.common.podcontrol import pod_from_template, slow_start_batches
from pynetes.controllermanager.common.pods import available_in, deletion_order
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
#: Upstream's BurstReplicas: at most this many creates (or deletes) per sync.
BURST_REPLICAS = 500
#: The condition a failed create or delete sets, and its reasons.
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"
FAILED_DELETE = "FailedDelete"


@dataclass(frozen=True)
class ReplicaKind:
    """What differs between ReplicaSets and ReplicationControllers.

    ``selector_of`` reads a spec's selector (a LabelSelector for
    ReplicaSets, a label map for ReplicationControllers); ``queue_name``
    and ``component`` are upstream's work queue and event source names.
    """

    resource: Resource
    api_version: str
    kind: str
    queue_name: str
    component: str
    selector_of: Callable[[Object], Selector]


def _label_selector(spec: Object) -> Selector:
    return selector_from_label_selector(spec.get("selector"))


REPLICA_SET = ReplicaKind(
    resource=built_in("apps", "v1", "replicasets"),
    api_version="apps/v1",
    kind="ReplicaSet",
    queue_name="replicaset",
    component="replicaset-controller",
    selector_of=_label_selector,
)


class ReplicaSetController:
    """Keeps the pods of every object of ``kind`` at its ``spec.replicas``."""

    def __init__(self, context: ControllerContext, kind: ReplicaKind, workers: int) -> None:
        self._kind = kind
        self._client: ApiClient = context.client
        self._wall_clock = context.wall_clock
        self._recorder: EventRecorder = context.recorder(kind.component)
        self._expectations = UIDTrackingExpectations(Expectations(clock=context.clock))
        indexers = {CONTROLLER_UID_INDEX: by_controller_uid}
        owners = context.informers.informer(kind.resource, indexers=indexers)
        pods = context.informers.informer(PODS, indexers=indexers)
        self._owners = owners.store
        self._owner_lister = Lister(owners.store)
        self._pods = pods.store
        self._controller = Controller(
            kind.queue_name, self._sync, workers=workers, queue=context.queue(kind.queue_name)
        )
        owners.add_event_handler(
            EventHandler(
                on_add=self._enqueue,
                on_update=self._owner_updated,
                on_delete=self._owner_deleted,
            )
        )
        pods.add_event_handler(
            EventHandler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events ---------------------------------------------------------------

    def _enqueue(self, owner: Object) -> None:
        self._controller.queue.add(object_key(owner))

    def _owner_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._owner_deleted(old)
        self._enqueue(new)

    def _owner_deleted(self, owner: Object) -> None:
        self._expectations.delete_expectations(object_key(owner))
        self._enqueue(owner)

    def _owner_of(self, pod: Object) -> Object | None:
        """The owner of our kind controlling ``pod`` (None if none, or since replaced)."""
        return controlling_owner(pod, self._kind.kind, self._owner_lister)

    def _owners_matching(self, pod: Object) -> list[Object]:
        """The owners whose selector matches the orphan ``pod`` (who may adopt it)."""
        labels = pod["metadata"].get("labels")
        return [
            owner
            for owner in self._owners.by_index(NAMESPACE_INDEX, pod["metadata"]["namespace"])
            if _selects(self._kind, owner, labels)
        ]

    def _pod_added(self, pod: Object) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)  # seen first while already being deleted
            return
        owner = self._owner_of(pod)
        if owner is not None:
            self._expectations.creation_observed(object_key(owner))
            self._enqueue(owner)
        elif controller_of(pod) is None:
            for candidate in self._owners_matching(pod):
                self._enqueue(candidate)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        labels_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if new["metadata"].get("deletionTimestamp"):
            # a deletion started: replacements need not wait for it to end
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_reference, new_reference = controller_of(old), controller_of(new)
        if old_reference != new_reference:
            previous = self._owner_of(old)
            if previous is not None:
                self._enqueue(previous)
        if new_reference is not None:
            owner = self._owner_of(new)
            if owner is not None:
                self._enqueue(owner)
        elif labels_changed or old_reference != new_reference:
            for candidate in self._owners_matching(new):
                self._enqueue(candidate)

    def _pod_deleted(self, pod: Object) -> None:
        owner = self._owner_of(pod)
        if owner is None:
            return
        key = object_key(owner)
        self._expectations.deletion_observed(key, object_key(pod))
        self._controller.queue.add(key)

    # -- sync -----------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        owner = self._owners.get(key)
        if owner is None:
            self._expectations.delete_expectations(key)
            return Result()
        try:
            selector = self._kind.selector_of(owner.get("spec") or {})
        except errors.ApiError as error:  # the API validates selectors: should not happen
            log.error("%s %s has an unusable selector: %s", self._kind.kind, key, error)
            return Result()
        needs_sync = self._expectations.satisfied(key)
        pods = await self._claim(owner, selector)
        failure: _Failure | None = None
        managed = needs_sync and not owner["metadata"].get("deletionTimestamp")
        if managed:
            failure = await self._manage(key, owner, pods)
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        status, next_available = _status(owner, pods, now, failure, managed)
        try:
            await self._write_status(owner, status)
        except errors.NotFound:
            return Result()
        if failure is not None:
            return Result(requeue=True)
        if next_available is not None:
            # time alone makes pods available, no event tells: come back then (a second
            # later, against clock skew, as upstream's resync after minReadySeconds)
            return Result(requeue_after=next_available + 1.0)
        return Result()

    async def _claim(self, owner: Object, selector: Selector) -> list[Object]:
        """The active pods ``owner`` controls, after adopting and releasing."""
        metadata = owner["metadata"]
        candidates = self._pods.by_index(CONTROLLER_UID_INDEX, metadata["uid"])
        candidates += self._pods.by_index(CONTROLLER_UID_INDEX, orphans_key(metadata["namespace"]))
        manager = ControllerRefManager(
            self._client,
            PODS,
            owner,
            self._kind.api_version,
            self._kind.kind,
            selector,
            owner_still_adoptable(self._client, self._kind.resource, owner),
        )
        return await manager.claim(pod for pod in candidates if is_active(pod))

    async def _manage(self, key: str, owner: Object, pods: list[Object]) -> _Failure | None:
        """Create or delete pods towards ``spec.replicas``; the failure, if any."""
        wanted = _replicas(owner)
        if len(pods) < wanted:
            return await self._create(key, owner, min(wanted - len(pods), BURST_REPLICAS))
        if len(pods) > wanted:
            return await self._delete(key, owner, pods, min(len(pods) - wanted, BURST_REPLICAS))
        return None

    async def _create(self, key: str, owner: Object, count: int) -> _Failure | None:
        template = (owner.get("spec") or {}).get("template") or {}
        namespace = owner["metadata"]["namespace"]
        # every pod is the same request (the server generates the names): encode it once
        pod = pod_from_template(template, owner, self._kind.api_version, self._kind.kind)
        body, path = orjson.dumps(pod), resource_path(PODS, namespace)
        self._expectations.expect_creations(key, count)

        async def create_one() -> None:
            try:
                created = await self._client.request("POST", path, body=body)
            except (errors.ApiError, errors.TransportError) as error:
                if errors.namespace_terminating(error):
                    return  # every create would fail; the namespace goes away anyway
                message = f"Error creating: {_message(error)}"
                self._recorder.event(owner, "Warning", FAILED_CREATE, message)
                raise
            name = created["metadata"]["name"]
            self._recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name}")

        done, error = await slow_start_batches(count, create_one)
        for _ in range(count - done):
            self._expectations.creation_observed(key)  # never created: never observed
        if error is None:
            return None
        return _Failure(FAILED_CREATE, _message(error))

    async def _delete(
        self, key: str, owner: Object, pods: list[Object], count: int
    ) -> _Failure | None:
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        doomed = deletion_order(pods, now, self._related_pods(owner))[:count]
        self._expectations.expect_deletions(key, [object_key(pod) for pod in doomed])

        async def delete_one(pod: Object) -> None:
            name = pod["metadata"]["name"]
            try:
                await self._client.delete(PODS, name, namespace=pod["metadata"]["namespace"])
            except errors.NotFound:
                self._expectations.deletion_observed(key, object_key(pod))
                return
            except (errors.ApiError, errors.TransportError) as error:
                self._expectations.deletion_observed(key, object_key(pod))
                message = f"Error deleting: {_message(error)}"
                self._recorder.event(owner, "Warning", FAILED_DELETE, message)
                raise
            self._recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        outcomes = await asyncio.gather(*(delete_one(p) for p in doomed), return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        return _Failure(FAILED_DELETE, _message(failures[0])) if failures else None

    def _related_pods(self, owner: Object) -> list[Object]:
        """The pods of every owner sharing ``owner``'s controller (upstream's
        getIndirectlyRelatedPods): a standalone owner has none, so ranks do not
        count then, as upstream."""
        reference = controller_of(owner)
        if reference is None:
            return []
        siblings = self._owners.by_index(CONTROLLER_UID_INDEX, reference.get("uid") or "")
        related: list[Object] = []
        for sibling in siblings:
            related.extend(self._pods.by_index(CONTROLLER_UID_INDEX, sibling["metadata"]["uid"]))
        return related

    async def _write_status(self, owner: Object, status: Object) -> None:
        """Replace the status if it changed; on a conflict read the owner again, once
        (upstream's statusUpdateRetries)."""
        if status == (owner.get("status") or {}):
            return
        for attempt in range(2):
            updated = copy.copy(owner)
            updated["status"] = status
            try:
                await self._client.replace(
                    self._kind.resource,
                    updated,
                    namespace=owner["metadata"]["namespace"],
                    subresource="status",
                )
                return
            except errors.Conflict:
                if attempt == 1:
                    raise
                owner = await self._client.get(
                    self._kind.resource,
                    owner["metadata"]["name"],
                    namespace=owner["metadata"]["namespace"],
                )


@dataclass(frozen=True)
class _Failure:
    """Why the last create or delete failed: the ReplicaFailure condition's reason and text."""

    reason: str
    message: str


def _replicas(owner: Object) -> int:
    replicas = (owner.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _selects(kind: ReplicaKind, owner: Object, labels: dict[str, str] | None) -> bool:
    try:
        selector = kind.selector_of(owner.get("spec") or {})
    except errors.ApiError:
        return False
    return not selector.empty and selector.matches(labels)


def _message(error: BaseException) -> str:
    return error.message if isinstance(error, errors.ApiError) else str(error)


def _status(
    owner: Object, pods: list[Object], now: datetime, failure: _Failure | None, managed: bool
) -> tuple[Object, float | None]:
    """The status ``pods`` give ``owner`` (upstream's calculateStatus), and the seconds
    until the next ready pod becomes available (None if none is waiting).

    Counts of zero are left out, as upstream's omitempty does. ReplicaFailure
    is set when a create or delete failed and removed once a sync managed
    its pods without failing; a sync that waited for expectations (or for a
    deletion) keeps it as it was.
    """
    template_metadata = ((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}
    fully_labeled = selector_from_set(template_metadata.get("labels"))
    min_ready = float((owner.get("spec") or {}).get("minReadySeconds") or 0)
    labeled = ready = available = 0
    next_available: float | None = None
    for pod in pods:  # one pass: a sync of thousands of pods does this on every change
        labeled += fully_labeled.matches(pod["metadata"].get("labels"))
        wait = available_in(pod, min_ready, now)
        if wait is None:
            continue
        ready += 1
        if wait == 0.0:
            available += 1
        elif wait != math.inf and (next_available is None or wait < next_available):
            next_available = wait
    counts = {
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": owner["metadata"].get("generation", 0),
    }
    status: Object = {"replicas": len(pods)}
    status.update((field, count) for field, count in counts.items() if count)
    conditions = _conditions(owner, now, failure, managed)
    if conditions:
        status["conditions"] = conditions
    return status, next_available


def _conditions(
    owner: Object, now: datetime, failure: _Failure | None, managed: bool
) -> list[Object]:
    """``owner``'s conditions with ReplicaFailure set or removed as the sync went."""
    kept: list[Object] = []
    failed: Object | None = None
    for condition in (owner.get("status") or {}).get("conditions") or ():
        if condition.get("type") == REPLICA_FAILURE:
            failed = condition
        else:
            kept.append(condition)
    if failure is not None and failed is None:
        failed = {
            "type": REPLICA_FAILURE,
            "status": "True",
            "lastTransitionTime": timestamp(now),
            "reason": failure.reason,
            "message": failure.message,
        }
    elif failure is None and managed:
        failed = None
    return [*kept, failed] if failed is not None else kept


def build(context: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(
        context, REPLICA_SET, context.workers(CONTROLLER.workers_option, CONTROLLER.default_workers)
    )


CONTROLLER = ControllerDescriptor(
    name="replicaset",
    build=build,
    concurrency_flag="--concurrent-replicaset-syncs",
    default_workers=5,
)
