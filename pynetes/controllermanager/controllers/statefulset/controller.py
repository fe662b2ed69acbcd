"""The statefulset controller: ordered, named pods with their own claims.

As upstream's StatefulSetController (defaultStatefulSetControl). A sync
of a StatefulSet claims its member pods (``<set>-<ordinal>``) and its
ControllerRevisions, finds the current and update revisions, then:

1. for each ordinal in range, lowest first: replaces a failed or
   succeeded pod, creates a missing one (its claims first), fixes the
   identity labels and claim owners of one; with OrderedReady
   (``monotonic``) it stops at the first pod it created or that is not
   Running, Ready and Available; Parallel does every ordinal at once, in
   slow-start batches;
2. hands the claims of the pods past the range to them when
   ``whenScaled`` is Delete, and deletes those pods, highest ordinal
   first (one at a time with OrderedReady, once the rest are healthy);
3. with RollingUpdate, deletes the highest-ordinal pod at or above the
   partition that is not at the update revision, one at a time, each
   after the ones above it are healthy again (the next sync recreates
   it at the update revision);
4. writes the status, completing the rollout (current revision := update
   revision) once every pod is updated and ready, and forgets revisions
   beyond ``revisionHistoryLimit`` no pod uses.

Pod names are fixed, so a stale cache shows up as AlreadyExists on create
(retried) and deletes carry the pod's uid as a precondition, never to
delete a newer pod of the same name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynetes.api.labels import Selector, selector_from_label_selector
from pynetes.api.meta import controller_of
from pynetes.api.pods import is_ready, is_terminal
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Result
from pynetes.controllermanager.common.history import (
    CONTROLLER_REVISIONS,
    RevisionHistory,
    equal_revisions,
    next_number,
    sorted_revisions,
    with_template_of,
)
from pynetes.controllermanager.common.ownership import (
    ControllerRefManager,
    controlling_owner,
    owner_selector,
    owner_still_adoptable,
)
from pynetes.controllermanager.common.podcontrol import slow_start_batches
from pynetes.controllermanager.common.pods import is_available
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.statefulset.identity import (
    API_VERSION,
    KIND,
    Revisions,
    identity_labels,
    identity_matches,
    is_member,
    is_stale_claim,
    new_claims,
    parent_and_ordinal,
    retained_references,
    revision_of,
    sort_members,
    start_ordinal,
)

Object = dict[str, Any]

STATEFUL_SETS = built_in("apps", "v1", "statefulsets")
PODS = built_in("", "v1", "pods")
CLAIMS = built_in("", "v1", "persistentvolumeclaims")


class _Retry(Exception):
    """The sync cannot go on now (its cause was recorded as an Event); retry with backoff."""


@dataclass
class _Counts:
    """The pod counts of the status (upstream's updateStatus)."""

    replicas: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    updated: int = 0


class StatefulSetController:
    """Keeps each StatefulSet's ordinals populated at the revision its strategy asks."""

    def __init__(self, context: ControllerContext, workers: int) -> None:
        self._client = context.client
        self._recorder = context.recorder("statefulset-controller")
        self._wall_clock = context.wall_clock
        sets = context.informers.informer(STATEFUL_SETS)
        pods = context.informers.informer(PODS)
        self._sets = Lister(sets.store)
        self._pods = Lister(pods.store)
        self._claims = Lister(context.informers.informer(CLAIMS).store)
        self._revisions = Lister(context.informers.informer(CONTROLLER_REVISIONS).store)
        self._history = RevisionHistory(self._client, STATEFUL_SETS, API_VERSION, KIND)
        self._controller = Controller(
            "statefulset", self._sync, workers=workers, queue=context.queue("statefulset")
        )
        sets.add_event_handler(
            EventHandler(
                on_add=self._enqueue,
                on_update=lambda _old, new: self._enqueue(new),
                on_delete=self._enqueue,
            )
        )
        pods.add_event_handler(
            EventHandler(
                on_add=self._pod_changed,
                on_update=self._pod_updated,
                on_delete=self._pod_changed,
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events --------------------------------------------------------------

    def _enqueue(self, stateful_set: Object) -> None:
        self._controller.queue.add(object_key(stateful_set))

    def _owner(self, pod: Object) -> Object | None:
        return controlling_owner(pod, KIND, self._sets)

    def _pod_changed(self, pod: Object) -> None:
        owner = self._owner(pod)
        if owner is not None:
            self._enqueue(owner)
        elif controller_of(pod) is None:
            for stateful_set in self._sets.list(pod["metadata"].get("namespace")):
                if is_member(stateful_set, pod) and owner_selector(stateful_set).matches(
                    pod["metadata"].get("labels")
                ):
                    self._enqueue(stateful_set)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        old_owner = self._owner(old)
        if old_owner is not None and old_owner is not self._owner(new):
            self._enqueue(old_owner)
        self._pod_changed(new)

    # -- sync ----------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, name = key.split("/", 1)
        stateful_set = self._sets.get(name, namespace)
        if stateful_set is None:
            return Result()
        try:
            selector = selector_from_label_selector(stateful_set["spec"].get("selector"))
        except errors.ApiError as error:
            self._recorder.event(stateful_set, "Warning", "InvalidSelector", str(error))
            return Result()
        revisions = await self._history.claim(
            stateful_set, selector, self._revisions.list(namespace)
        )
        pods = await self._claim_pods(stateful_set, selector)
        current, update, collisions = await self._current_and_update(stateful_set, revisions)
        revs = Revisions(
            with_template_of(stateful_set, current),
            with_template_of(stateful_set, update),
            current["metadata"]["name"],
            update["metadata"]["name"],
        )
        now = self._now()
        counts = _count(stateful_set, pods, revs, now)
        result = Result()
        try:
            if not stateful_set["metadata"].get("deletionTimestamp"):
                await _Update(self, stateful_set, pods, revs, now, counts).run()
        except _Retry:
            result = Result(requeue=True)
        await self._write_status(stateful_set, counts, revs, collisions)
        in_use = {revision_of(pod) for pod in pods} | {revs.current, revs.update}
        keep = int(stateful_set["spec"].get("revisionHistoryLimit", 10))
        await self._history.truncate(revisions, keep, in_use)
        min_ready = _min_ready_seconds(stateful_set)
        if result == Result() and min_ready > 0 and counts.ready != counts.available:
            return Result(requeue_after=min_ready)
        return result

    async def _claim_pods(self, stateful_set: Object, selector: Selector) -> list[Object]:
        manager = ControllerRefManager(
            self._client,
            PODS,
            stateful_set,
            API_VERSION,
            KIND,
            selector,
            owner_still_adoptable(self._client, STATEFUL_SETS, stateful_set),
        )
        namespace = stateful_set["metadata"]["namespace"]
        members = [pod for pod in self._pods.list(namespace) if is_member(stateful_set, pod)]
        return await manager.claim(members)

    async def _current_and_update(
        self, stateful_set: Object, revisions: list[Object]
    ) -> tuple[Object, Object, int]:
        """Upstream's getStatefulSetRevisions: the update revision is the newest if it
        equals the template, an older equal one renumbered newest (a rollback), or a
        new one; the current one is the status's, else the update revision."""
        revisions = sorted_revisions(revisions)
        status = stateful_set.get("status") or {}
        collisions = int(status.get("collisionCount") or 0)
        number = next_number(revisions)
        candidate = self._history.new(stateful_set, number, collisions)
        equal = [revision for revision in revisions if equal_revisions(revision, candidate)]
        if equal and equal[-1] is revisions[-1]:
            update = revisions[-1]
        elif equal:
            update = await self._history.renumber(equal[-1], number)
        else:
            update, collisions = await self._history.create(stateful_set, number, collisions)
        current = next(
            (r for r in revisions if r["metadata"]["name"] == status.get("currentRevision")),
            update,
        )
        return current, update, collisions

    async def _write_status(
        self, stateful_set: Object, counts: _Counts, revs: Revisions, collisions: int
    ) -> None:
        """Write the status if it changed, completing a finished rolling update."""
        current_revision, current_replicas = revs.current, counts.current
        rolling = _strategy(stateful_set) == "RollingUpdate"
        if rolling and counts.updated == counts.replicas == counts.ready:
            current_revision, current_replicas = revs.update, counts.updated
        status: Object = {
            "observedGeneration": stateful_set["metadata"].get("generation"),
            "replicas": counts.replicas,
            # omitted when zero, as upstream's omitempty fields
            "readyReplicas": counts.ready or None,
            "currentReplicas": current_replicas or None,
            "updatedReplicas": counts.updated or None,
            "availableReplicas": counts.available,
            "currentRevision": current_revision,
            "updateRevision": revs.update,
            "collisionCount": collisions,
        }
        existing = stateful_set.get("status") or {}
        if all(existing.get(field) == value for field, value in status.items()):
            return
        with contextlib.suppress(errors.NotFound):
            await self._client.patch(
                STATEFUL_SETS,
                stateful_set["metadata"]["name"],
                {"status": status},
                namespace=stateful_set["metadata"]["namespace"],
                subresource="status",
            )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall_clock(), UTC)

    # -- writes, each recorded as upstream's statefulset pod control records it --

    async def create_pod(self, stateful_set: Object, pod: Object) -> Object:
        """Create ``pod`` after its claims; raises :class:`_Retry` if either cannot be."""
        await self.ensure_claims(stateful_set, pod)
        try:
            created = await self._client.create(PODS, pod)
        except errors.AlreadyExists as error:
            if await self._held_by_stranger(stateful_set, pod):
                self._pod_event(stateful_set, pod, "Create", error)
            raise _Retry from None  # else our cache has not seen our pod yet
        except errors.ApiError as error:
            self._pod_event(stateful_set, pod, "Create", error)
            raise _Retry from error
        self._pod_event(stateful_set, pod, "Create", None)
        return created

    async def _held_by_stranger(self, stateful_set: Object, pod: Object) -> bool:
        """Whether the pod of ``pod``'s name is not this set's (an orphan it cannot adopt
        or another controller's): a user must sort that out, so it is reported."""
        try:
            existing = await self._client.get(
                PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"]
            )
        except errors.NotFound:
            return False
        reference = controller_of(existing) or {}
        return reference.get("uid") != stateful_set["metadata"]["uid"]

    async def delete_pod(self, stateful_set: Object, pod: Object) -> None:
        """Delete exactly ``pod`` (its uid): a newer pod of its name is left alone."""
        try:
            await self._client.delete(
                PODS,
                pod["metadata"]["name"],
                namespace=pod["metadata"]["namespace"],
                preconditions={"uid": pod["metadata"]["uid"]},
            )
        except (errors.NotFound, errors.Conflict):
            return
        except errors.ApiError as error:
            self._pod_event(stateful_set, pod, "Delete", error)
            raise _Retry from error
        self._pod_event(stateful_set, pod, "Delete", None)

    async def fix_identity(self, stateful_set: Object, pod: Object, ordinal: int) -> None:
        """Put back the identity labels of a member that lost them."""
        patch = {"metadata": {"labels": identity_labels(stateful_set, ordinal)}}
        try:
            await self._client.patch(
                PODS, pod["metadata"]["name"], patch, namespace=pod["metadata"]["namespace"]
            )
        except errors.NotFound:
            return
        except errors.ApiError as error:
            self._pod_event(stateful_set, pod, "Update", error)
            raise _Retry from error

    async def ensure_claims(self, stateful_set: Object, pod: Object) -> None:
        """Create the claims of ``pod`` that do not exist; a claim being deleted, or
        left by an earlier pod of the name for deletion, must go first (the pod would
        otherwise mount a dying volume)."""
        parsed = parent_and_ordinal(pod)
        if parsed is None:
            return
        for claim in new_claims(stateful_set, parsed[1]):
            name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
            existing = self._claims.get(name, namespace)
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp") or is_stale_claim(existing, pod):
                    raise _Retry
                continue
            try:
                await self._client.create(CLAIMS, claim)
            except errors.AlreadyExists:
                continue
            except errors.ApiError as error:
                self._claim_event(stateful_set, claim, pod, error)
                raise _Retry from error
            self._claim_event(stateful_set, claim, pod, None)

    async def retain_claims(self, stateful_set: Object, pod: Object, *, scaled_down: bool) -> None:
        """Make the ownerReferences of ``pod``'s existing claims follow the retention
        policy, so the garbage collector deletes them with the set or the pod."""
        parsed = parent_and_ordinal(pod)
        if parsed is None:
            return
        for claim in new_claims(stateful_set, parsed[1]):
            name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
            existing = self._claims.get(name, namespace)
            if existing is None:
                continue
            references = existing["metadata"].get("ownerReferences") or []
            wanted = retained_references(references, stateful_set, pod, scaled_down=scaled_down)
            if wanted == references:
                continue
            patch = {"metadata": {"ownerReferences": wanted or None}}
            try:
                await self._client.patch(CLAIMS, name, patch, namespace=namespace)
            except errors.NotFound:
                continue
            except errors.ApiError as error:
                self._pod_event(stateful_set, pod, "Update", error)
                raise _Retry from error

    def _pod_event(
        self, stateful_set: Object, pod: Object, verb: str, error: errors.ApiError | None
    ) -> None:
        what = f"{verb.lower()} Pod {pod['metadata']['name']} in StatefulSet "
        what += stateful_set["metadata"]["name"]
        if error is None:
            self._recorder.event(stateful_set, "Normal", f"Successful{verb}", f"{what} successful")
        else:
            message = f"{what} failed error: {error}"
            self._recorder.event(stateful_set, "Warning", f"Failed{verb}", message)

    def _claim_event(
        self, stateful_set: Object, claim: Object, pod: Object, error: errors.ApiError | None
    ) -> None:
        claim_name, pod_name = claim["metadata"]["name"], pod["metadata"]["name"]
        set_name = stateful_set["metadata"]["name"]
        if error is None:
            message = f"create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success"
            self._recorder.event(stateful_set, "Normal", "SuccessfulCreate", message)
        else:
            message = (
                f"create Claim {claim_name} for Pod {pod_name} in StatefulSet {set_name} "
                f"failed error: {error}"
            )
            self._recorder.event(stateful_set, "Warning", "FailedCreate", message)


class _Update:
    """One pass of upstream's updateStatefulSet over a set's members."""

    def __init__(
        self,
        control: StatefulSetController,
        stateful_set: Object,
        pods: list[Object],
        revs: Revisions,
        now: datetime,
        counts: _Counts,
    ) -> None:
        self.control = control
        self.set = stateful_set
        self.revs = revs
        self.counts = counts
        self.members = sort_members(stateful_set, pods)
        self.start = start_ordinal(stateful_set)
        self.monotonic = stateful_set["spec"].get("podManagementPolicy") != "Parallel"
        min_ready = _min_ready_seconds(stateful_set)
        self.available = lambda pod: _running_and_ready(pod) and is_available(pod, min_ready, now)
        self.first_unhealthy = self._first_unhealthy()

    def _first_unhealthy(self) -> Object | None:
        """The lowest-ordinal member in range that is not healthy, else in the condemned."""
        ordered = [*self.members.replicas, *reversed(self.members.condemned)]
        return next((pod for pod in ordered if pod is None or not _healthy(pod)), None)

    async def run(self) -> None:
        if await self._for_all(len(self.members.replicas), self._replica):
            return
        condemned = self.members.condemned
        for pod in condemned:
            await self.control.retain_claims(self.set, pod, scaled_down=True)
        if await self._for_all(len(condemned), lambda index: self._condemned(condemned[index])):
            return
        if _strategy(self.set) == "RollingUpdate":
            await self._roll()

    async def _for_all(self, count: int, step: Callable[[int], Awaitable[bool]]) -> bool:
        """Upstream's runForAll: with OrderedReady, ``step`` each index in turn until one
        must wait (True: the pass ends there); with Parallel, every index at once in
        slow-start batches, a failure ending the pass."""
        if self.monotonic:
            for index in range(count):
                if await step(index):
                    return True
            return False
        indices = iter(range(count))

        async def next_step() -> None:
            await step(next(indices))

        _, failure = await slow_start_batches(count, next_step)
        if failure is not None:
            raise failure
        return False

    async def _replica(self, index: int) -> bool:
        """Bring ordinal start+index along; True when OrderedReady must wait for it."""
        pod = self.members.replicas[index]
        ordinal = self.start + index
        if pod is not None and is_terminal(pod):
            if not pod["metadata"].get("deletionTimestamp"):
                await self.control.delete_pod(self.set, pod)
            return True
        if pod is None:
            self.members.replicas[index] = await self.control.create_pod(
                self.set, self.revs.pod(ordinal)
            )
            return True
        if pod["metadata"].get("deletionTimestamp"):
            return True
        if (pod.get("status") or {}).get("phase") == "Pending":
            await self.control.ensure_claims(self.set, pod)
        if not self.available(pod) and self.monotonic:
            return True
        if not identity_matches(self.set, pod, ordinal):
            await self.control.fix_identity(self.set, pod, ordinal)
        await self.control.retain_claims(self.set, pod, scaled_down=False)
        return False

    async def _condemned(self, pod: Object) -> bool:
        """Scale ``pod`` away; True when OrderedReady must wait (for it or before it)."""
        if pod["metadata"].get("deletionTimestamp"):
            return True
        if not self.available(pod) and pod is not self.first_unhealthy and self.monotonic:
            return True
        await self.control.delete_pod(self.set, pod)
        return True

    async def _roll(self) -> None:
        """Delete the highest member at or above the partition not at the update revision,
        once every member above it is healthy (upstream's one-at-a-time update)."""
        rolling = (self.set["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        partition = int(rolling.get("partition") or 0)
        replicas = self.members.replicas
        for index in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[index]
            if pod is None:
                return
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            if revision_of(pod) != self.revs.update and not terminating:
                await self.control.delete_pod(self.set, pod)
                self.counts.current -= 1
                return
            if not _healthy(pod):
                return


def _count(stateful_set: Object, pods: list[Object], revs: Revisions, now: datetime) -> _Counts:
    """Upstream's updateStatus over every member the set controls."""
    min_ready = _min_ready_seconds(stateful_set)
    counts = _Counts()
    for pod in pods:
        if parent_and_ordinal(pod) is None:
            continue
        counts.replicas += 1
        if _running_and_ready(pod):
            counts.ready += 1
            counts.available += is_available(pod, min_ready, now)
        if not pod["metadata"].get("deletionTimestamp"):
            counts.current += revision_of(pod) == revs.current
            counts.updated += revision_of(pod) == revs.update
    return counts


def _running_and_ready(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def _healthy(pod: Object) -> bool:
    return _running_and_ready(pod) and not pod["metadata"].get("deletionTimestamp")


def _strategy(stateful_set: Object) -> str:
    return (stateful_set["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate"


def _min_ready_seconds(stateful_set: Object) -> float:
    return float(stateful_set["spec"].get("minReadySeconds") or 0)
