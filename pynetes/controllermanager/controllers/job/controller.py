"""The Job controller: runs a Job's pods to completion, counting each outcome once.

As upstream's (Kubernetes 1.31) with pod tracking finalizers: every pod
carries ``batch.kubernetes.io/job-tracking`` until the Job has counted it,
first into ``status.uncountedTerminatedPods`` (written before the finalizer
goes, so a crash in between loses nothing), then into ``succeeded`` /
``failed``. A pod deleted before it succeeded counts as failed.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynetes.api.conditions import is_true, set_condition
from pynetes.api.labels import selector_from_label_selector
from pynetes.api.meta import controller_of, parse_timestamp, resource_version, timestamp
from pynetes.api.pods import is_active, is_ready
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Expectations, Result, UIDTrackingExpectations
from pynetes.controllermanager.common.ownership import ControllerRefManager, owner_still_adoptable
from pynetes.controllermanager.common.podcontrol import slow_start_batches
from pynetes.controllermanager.common.pods import deletion_order
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.job.conditions import failure_backoff, is_finished
from pynetes.controllermanager.controllers.job.indexes import (
    format_indexes,
    index_of,
    parse_indexes,
)
from pynetes.controllermanager.controllers.job.pods import (
    TRACKING_FINALIZER,
    is_tracked,
    new_pod,
    outcome,
)

log = logging.getLogger(__name__)
Object = dict[str, Any]

JOBS = built_in("batch", "v1", "jobs")
PODS = built_in("", "v1", "pods")
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
#: Upstream's default spec.backoffLimit and its cap on pods made per sync.
DEFAULT_BACKOFF_LIMIT = 6
MAX_POD_CREATE_DELETE_PER_SYNC = 500
_UID_INDEX = "job-uid"


def _job_uid(pod: Object) -> list[str]:
    uid = (pod["metadata"].get("labels") or {}).get(CONTROLLER_UID)
    return [uid] if uid else []


@dataclass
class _Backoff:
    """Failures since the Job's last success, and when the latest was counted."""

    failures: int = 0
    last_failure: float = 0.0


class JobController:
    """Keeps each Job's pods running until it completes or fails."""

    def __init__(self, context: ControllerContext) -> None:
        self.client = context.client
        self.wall_clock = context.wall_clock
        jobs = context.informers.informer(JOBS)
        pods = context.informers.informer(PODS, indexers={_UID_INDEX: _job_uid})
        self._jobs = Lister(jobs.store)
        self._pods = pods.store
        self.recorder = context.recorder("job-controller")
        self.expectations = UIDTrackingExpectations(Expectations(context.clock))
        self.backoff: dict[str, _Backoff] = {}
        #: Per Job, the pods whose finalizer it removed but the cache still shows
        #: (upstream's finalizer expectations): counted already, never again.
        self.releasing: dict[str, set[str]] = {}
        #: Per Job, the resourceVersion of its last status write: a cached Job
        #: older than that would count again what that write counted.
        self.written: dict[str, int] = {}
        self._controller = Controller(
            "job",
            self._sync,
            workers=context.workers("concurrent_job_syncs", 5),
            queue=context.queue("job"),
        )
        queue = self._controller.queue
        jobs.add_event_handler(
            EventHandler(
                on_add=lambda job: queue.add(object_key(job)),
                on_update=lambda _old, job: queue.add(object_key(job)),
                on_delete=self._job_deleted,
            )
        )
        pods.add_event_handler(
            EventHandler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_gone
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events ------------------------------------------------------------------

    def _job_deleted(self, job: Object) -> None:
        key = object_key(job)
        self.expectations.delete_expectations(key)
        self.backoff.pop(key, None)
        self.releasing.pop(key, None)
        self.written.pop(key, None)

    def _owner_key(self, pod: Object) -> str | None:
        reference = controller_of(pod)
        if reference is None or reference.get("kind") != "Job":
            return None
        return f"{pod['metadata']['namespace']}/{reference['name']}"

    def _pod_added(self, pod: Object) -> None:
        key = self._owner_key(pod)
        if key is None:
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, object_key(pod))
        else:
            self.expectations.creation_observed(key)
        self._controller.queue.add(key)

    def _pod_updated(self, old: Object, new: Object) -> None:
        key = self._owner_key(new)
        if key is not None:
            if new["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, object_key(new))
            if not is_tracked(new):
                self.releasing.get(key, set()).discard(new["metadata"]["uid"])
            self._controller.queue.add(key)
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self._controller.queue.add(old_key)

    def _pod_gone(self, pod: Object) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, object_key(pod))
            self.releasing.get(key, set()).discard(pod["metadata"]["uid"])
            self._controller.queue.add(key)

    # -- sync --------------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        job = self._jobs.get(name, namespace)
        if job is None or not self.expectations.satisfied(key):
            return Result()
        if resource_version(job) < self.written.get(key, 0):
            return Result()  # the cache has not seen our last write; its event brings us back
        try:
            return await _JobSync(self, key, job).run()
        except errors.Conflict:
            return Result(requeue=True)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), UTC)

    async def pods_of(self, job: Object) -> list[Object]:
        """The Job's pods, after adopting matching orphans and releasing strays."""
        candidates = self._pods.by_index(_UID_INDEX, job["metadata"]["uid"])
        manager = ControllerRefManager(
            self.client,
            PODS,
            job,
            "batch/v1",
            "Job",
            selector_from_label_selector(job["spec"].get("selector")),
            owner_still_adoptable(self.client, JOBS, job),
        )
        return await manager.claim(candidates)


class _JobSync:
    """One sync of one Job: count outcomes, judge the Job, make or remove pods, write status."""

    def __init__(self, owner: JobController, key: str, job: Object) -> None:
        self.owner = owner
        self.client = owner.client
        self.key = key
        self.job = job
        self.spec = job["spec"]
        self.status: Object = copy.deepcopy(job.get("status") or {})
        self.now = owner.now()
        self.indexed = self.spec.get("completionMode") == "Indexed"
        self.completions: int | None = self.spec.get("completions")

    async def run(self) -> Result:
        pods = await self.owner.pods_of(self.job)
        await self._count_outcomes(pods)
        active = [p for p in pods if outcome(p) is None and is_active(p)]
        requeue_after = 0.0
        if not is_finished(self.status):
            if self.spec.get("suspend"):
                await self._suspend(active)
                active = []
            else:
                self._resume()
                failure = self._failure()
                if failure is not None:
                    await self._delete(active)
                    active = []
                    self._finish("Failed", *failure)
                elif self._complete(active):
                    await self._delete(active)
                    active = []
                    self._finish(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                else:
                    requeue_after = await self._manage(active)
                    requeue_after = _soonest(requeue_after, self._deadline_left())
        self.status["active"] = len(active)
        self.status["ready"] = sum(1 for pod in active if is_ready(pod))
        await self._write_status()
        return Result(requeue_after=requeue_after) if requeue_after > 0 else Result()

    # -- counting ---------------------------------------------------------------

    async def _count_outcomes(self, pods: list[Object]) -> None:
        """Record finished tracked pods as uncounted, drop their finalizers, then count them."""
        uncounted = self.status.setdefault("uncountedTerminatedPods", {})
        listed = {uid for uids in uncounted.values() for uid in uids}
        releasing = self.owner.releasing.setdefault(self.key, set())
        finishing: list[Object] = []
        for pod in pods:
            result = outcome(pod) or ("failed" if is_finished(self.status) else None)
            if not is_tracked(pod) or result is None or pod["metadata"]["uid"] in releasing:
                continue
            finishing.append(pod)
            if pod["metadata"]["uid"] not in listed:
                uncounted.setdefault(result, []).append(pod["metadata"]["uid"])
        if any(pod["metadata"]["uid"] not in listed for pod in finishing):
            await self._write_status()  # recorded before the finalizers go: nothing is lost
        released = {pod["metadata"]["uid"] for pod in finishing}
        for pod in finishing:
            releasing.add(pod["metadata"]["uid"])
            await self._release(pod)
        # The informer may have seen a release while this sync awaited it, and dropped the
        # pod from ``releasing``: ``released`` keeps this sync's own releases counted.
        tracked = {p["metadata"]["uid"] for p in pods if is_tracked(p)}
        still_tracked = tracked - releasing - released
        by_uid = {pod["metadata"]["uid"]: pod for pod in pods}
        self._move_counted(
            self.status.setdefault("uncountedTerminatedPods", {}), still_tracked, by_uid
        )

    def _move_counted(
        self, uncounted: Object, still_tracked: set[str], by_uid: dict[str, Object]
    ) -> None:
        backoff = self.owner.backoff.setdefault(self.key, _Backoff())
        completed = parse_indexes(self.status.get("completedIndexes"), self.completions or 0)
        for result in ("succeeded", "failed"):
            keep = [uid for uid in uncounted.get(result, ()) if uid in still_tracked]
            counted = [uid for uid in uncounted.get(result, ()) if uid not in still_tracked]
            uncounted[result] = keep
            if not counted:
                continue
            if result == "failed":
                backoff.failures += len(counted)
                backoff.last_failure = self.owner.wall_clock()
                self.status["failed"] = self.status.get("failed", 0) + len(counted)
                continue
            backoff.failures = 0
            if not self.indexed:
                self.status["succeeded"] = self.status.get("succeeded", 0) + len(counted)
                continue
            for uid in counted:
                index = index_of(by_uid[uid]) if uid in by_uid else None
                if index is not None and index < (self.completions or 0):
                    completed.add(index)
        if self.indexed:
            self.status["completedIndexes"] = format_indexes(completed)
            self.status["succeeded"] = len(completed)
        for result in ("succeeded", "failed"):
            if not uncounted.get(result):
                uncounted.pop(result, None)

    async def _release(self, pod: Object) -> None:
        """Remove the tracking finalizer (nothing to do if the pod is gone or replaced)."""
        patch = {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
                "uid": pod["metadata"]["uid"],
            }
        }
        namespace = pod["metadata"]["namespace"]
        with contextlib.suppress(errors.NotFound, errors.Invalid):
            await self.client.patch(
                PODS, pod["metadata"]["name"], patch, patch_type="strategic", namespace=namespace
            )

    # -- judging ----------------------------------------------------------------

    def _failure(self) -> tuple[str, str] | None:
        """Why the Job has failed, if it has: too many failed pods, or past its deadline."""
        limit = self.spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT)
        if self.status.get("failed", 0) > limit:
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        left = self._deadline_left()
        if left is not None and left <= 0:
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        return None

    def _deadline_left(self) -> float | None:
        deadline = self.spec.get("activeDeadlineSeconds")
        started = parse_timestamp(self.status.get("startTime") or "")
        if deadline is None or started is None:
            return None
        return deadline - (self.now - started).total_seconds()

    def _complete(self, active: list[Object]) -> bool:
        succeeded = self.status.get("succeeded", 0)
        if self.completions is None:
            return succeeded > 0 and not active
        return succeeded >= self.completions

    def _finish(self, kind: str, reason: str, message: str) -> None:
        stamp = timestamp(self.now)
        if kind == "Failed":
            set_condition(self.status, "FailureTarget", True, reason, message, self.now)
            self.owner.recorder.event(self.job, "Warning", reason, message)
        else:
            set_condition(self.status, "SuccessCriteriaMet", True, reason, message, self.now)
            self.status["completionTime"] = stamp
            self.owner.recorder.event(self.job, "Normal", "Completed", "Job completed")
        set_condition(self.status, kind, True, reason, message, self.now)

    # -- suspension ---------------------------------------------------------------

    async def _suspend(self, active: list[Object]) -> None:
        await self._delete(active)
        if set_condition(self.status, "Suspended", True, "JobSuspended", "Job suspended", self.now):
            self.owner.recorder.event(self.job, "Normal", "Suspended", "Job suspended")

    def _resume(self) -> None:
        if is_true(self.status, "Suspended"):
            set_condition(self.status, "Suspended", False, "JobResumed", "Job resumed", self.now)
            self.owner.recorder.event(self.job, "Normal", "Resumed", "Job resumed")
            self.status["startTime"] = timestamp(self.now)
        self.status.setdefault("startTime", timestamp(self.now))

    # -- pods ---------------------------------------------------------------------

    async def _manage(self, active: list[Object]) -> float:
        """Create or delete pods towards the wanted parallelism; seconds to wait, if any."""
        wanted = self._wanted_indexes(active) if self.indexed else None
        target = len(active) + len(wanted) if wanted is not None else self._wanted_count()
        if len(active) > target:
            surplus = deletion_order(active, self.now)[: len(active) - target]
            await self._delete(surplus)
            return 0.0
        missing = min(target - len(active), MAX_POD_CREATE_DELETE_PER_SYNC)
        if missing <= 0:
            return 0.0
        wait = self._backoff_left()
        if wait > 0:
            return wait
        await self._create(missing, wanted)
        return 0.0

    def _wanted_count(self) -> int:
        """Pods to run now: parallelism, but no more than the completions left, counting
        the successes still uncounted (their finalizers on the way out) as upstream does."""
        parallelism = self.spec.get("parallelism", 1)
        uncounted = (self.status.get("uncountedTerminatedPods") or {}).get("succeeded") or ()
        succeeded = self.status.get("succeeded", 0) + len(uncounted)
        if self.completions is None:
            return 0 if succeeded > 0 else parallelism
        return max(0, min(parallelism, self.completions - succeeded))

    def _wanted_indexes(self, active: list[Object]) -> list[int]:
        """Indexes neither completed nor running, at most parallelism minus the active."""
        completions = self.completions or 0
        done = parse_indexes(self.status.get("completedIndexes"), completions)
        running = {index_of(pod) for pod in active}
        free = max(0, self.spec.get("parallelism", 1) - len(active))
        pending = [i for i in range(completions) if i not in done and i not in running]
        return pending[:free]

    def _backoff_left(self) -> float:
        backoff = self.owner.backoff.get(self.key)
        if backoff is None or backoff.failures == 0:
            return 0.0
        waited = self.owner.wall_clock() - backoff.last_failure
        return failure_backoff(backoff.failures) - waited

    async def _create(self, count: int, indexes: list[int] | None) -> None:
        pending = iter(indexes) if indexes is not None else None
        self.owner.expectations.expect_creations(self.key, count)

        async def create_one() -> None:
            index = next(pending) if pending is not None else None
            pod = await self.client.create(PODS, new_pod(self.job, index))
            self.owner.recorder.event(
                self.job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"
            )

        created, failure = await slow_start_batches(count, create_one)
        if failure is None:
            return
        self.owner.expectations.expectations.lower_expectations(self.key, count - created, 0)
        message = f"Error creating: {failure}"
        self.owner.recorder.event(self.job, "Warning", "FailedCreate", message)
        raise failure

    async def _delete(self, pods: list[Object]) -> None:
        if not pods:
            return
        self.owner.expectations.expect_deletions(self.key, [object_key(p) for p in pods])
        for pod in pods:
            try:
                await self.client.delete(
                    PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"]
                )
            except errors.NotFound:
                self.owner.expectations.deletion_observed(self.key, object_key(pod))
                continue
            self.owner.recorder.event(
                self.job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}"
            )

    async def _write_status(self) -> None:
        status = {k: v for k, v in self.status.items() if v not in (0, None) or k == "ready"}
        if status == (self.job.get("status") or {}):
            return
        written = await self.client.replace(
            JOBS, {**self.job, "status": status}, subresource="status"
        )
        self.job = written
        self.owner.written[self.key] = resource_version(written)
        self.status = copy.deepcopy(written.get("status") or {})


def _soonest(first: float, second: float | None) -> float:
    """The earlier of two positive waits (0 or None mean "no wait")."""
    waits = [wait for wait in (first, second) if wait is not None and wait > 0]
    return min(waits, default=0.0)
