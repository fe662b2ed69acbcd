"""The CronJob controller: a Job from ``spec.jobTemplate`` at each time of the schedule.

As upstream's CronJobControllerV2 (Kubernetes 1.31). Each sync of a CronJob
first prunes finished Jobs past the history limits, then reconciles
``status.active`` with the Jobs the CronJob controls, then decides whether a
scheduled time is due and unmet; if so it starts a Job named
``<cronjob>-<scheduled minute since the epoch>`` (the name is the lock that
keeps one scheduled time from starting twice). It then asks to be woken
just after the next scheduled time, computed with ``context.wall_clock``.

A schedule the API accepted but that never fires (``0 0 30 2 *``) gets an
``InvalidSchedule`` Event and no requeue: only an edit can fix it, and an
edit brings the CronJob back.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, tzinfo
from typing import Any

from pynetes.api import cron
from pynetes.api.conditions import is_true
from pynetes.api.meta import controller_of, parse_timestamp, resource_version, timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.events import object_reference
from pynetes.controller import Controller, Result
from pynetes.controllermanager.common.ownership import controller_reference
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.cronjob.timing import (
    NEXT_SCHEDULE_DELTA,
    Missed,
    ScheduleNeverFires,
    most_recent_schedule_time,
    requeue_after,
)

log = logging.getLogger(__name__)
Object = dict[str, Any]

CRON_JOBS = built_in("batch", "v1", "cronjobs")
JOBS = built_in("batch", "v1", "jobs")
#: Annotation on each Job: its scheduled time, RFC 3339 in the CronJob's time zone.
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_OWNER_INDEX = "cronjob-uid"


def _owning_cron_job(job: Object) -> list[str]:
    """Index: the uid of the CronJob controlling ``job``."""
    reference = controller_of(job)
    if reference is None or reference.get("kind") != "CronJob":
        return []
    return [reference.get("uid", "")]


def finished_condition(job: Object) -> str | None:
    """``Complete`` or ``Failed`` when that condition is true: the Job has finished."""
    status = job.get("status") or {}
    for kind in ("Complete", "Failed"):
        if is_true(status, kind):
            return kind
    return None


def job_name(cron_job: Object, scheduled: float) -> str:
    return f"{cron_job['metadata']['name']}-{int(scheduled // 60)}"


def rfc3339_in(moment: float, zone: tzinfo) -> str:
    """Go's RFC 3339 text of ``moment`` in ``zone`` ("Z" when the offset is zero)."""
    local = datetime.fromtimestamp(moment, zone).replace(microsecond=0)
    if local.utcoffset():
        return local.isoformat()
    return local.replace(tzinfo=None).isoformat() + "Z"


def job_from_template(cron_job: Object, scheduled: float, zone: tzinfo) -> Object:
    """The Job a CronJob starts for ``scheduled``: its template, owned by the CronJob."""
    template = cron_job["spec"].get("jobTemplate") or {}
    template_meta = template.get("metadata") or {}
    annotations = dict(template_meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = rfc3339_in(scheduled, zone)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cron_job, scheduled),
            "namespace": cron_job["metadata"]["namespace"],
            "labels": dict(template_meta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [controller_reference(cron_job, "batch/v1", "CronJob")],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def format_schedule(cron_job: Object) -> str:
    """The schedule with its ``spec.timeZone`` as a ``TZ=`` prefix, as upstream parses it."""
    spec = cron_job["spec"]
    schedule: str = spec.get("schedule", "")
    zone = spec.get("timeZone")
    if "TZ" in schedule or zone is None:
        return schedule
    try:
        cron.load_location(zone)
    except cron.LocationError:
        return schedule
    return f"TZ={zone} {schedule}"


def earliest_time(cron_job: Object) -> float:
    """Where schedule times are counted from: the last scheduled time, else creation."""
    last = parse_timestamp((cron_job.get("status") or {}).get("lastScheduleTime") or "")
    if last is not None:
        return last.timestamp()
    created = parse_timestamp(cron_job["metadata"].get("creationTimestamp") or "")
    return created.timestamp() if created is not None else 0.0


class CronJobController:
    """Starts, replaces and prunes the Jobs of every CronJob."""

    def __init__(self, context: ControllerContext) -> None:
        self.client = context.client
        self.wall_clock = context.wall_clock
        cron_jobs = context.informers.informer(CRON_JOBS)
        jobs = context.informers.informer(JOBS, indexers={_OWNER_INDEX: _owning_cron_job})
        self.cron_jobs = Lister(cron_jobs.store)
        self.jobs = jobs.store
        self.recorder = context.recorder("cronjob-controller")
        #: Per CronJob, the resourceVersion of its last status write: an older cached
        #: copy would act again on what that write recorded.
        self.written: dict[str, int] = {}
        self._controller = Controller(
            "cronjob",
            self._sync,
            workers=context.workers("concurrent_cron_job_syncs", 5),
            queue=context.queue("cronjob"),
        )
        self.queue = self._controller.queue
        cron_jobs.add_event_handler(
            EventHandler(
                on_add=lambda cron_job: self.queue.add(object_key(cron_job)),
                on_update=self._cron_job_updated,
                on_delete=lambda cron_job: self.written.pop(object_key(cron_job), None),
            )
        )
        jobs.add_event_handler(
            EventHandler(
                on_add=self._job_changed,
                on_update=self._job_updated,
                on_delete=self._job_changed,
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events ------------------------------------------------------------------

    def _cron_job_updated(self, old: Object, new: Object) -> None:
        """A new schedule or zone wakes the CronJob at its next time; anything else now."""
        key = object_key(new)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        same_schedule = old_spec.get("schedule") == new_spec.get("schedule")
        if same_schedule and old_spec.get("timeZone") == new_spec.get("timeZone"):
            self.queue.add(key)
            return
        try:
            schedule = cron.parse_standard(format_schedule(new))
        except cron.ScheduleError:
            self.recorder.event(
                new,
                "Warning",
                "UnParseableCronJobSchedule",
                f"unparseable schedule for cronjob: {new_spec.get('schedule')}",
            )
            return
        wait = requeue_after(schedule, earliest_time(new), self.wall_clock())
        if wait is None:
            self.queue.add(key)  # a schedule that never fires: the sync reports it now
        else:
            self.queue.add_after(key, wait)

    def _owner_key(self, job: Object) -> str | None:
        """The key of the cached CronJob controlling ``job`` (same name and uid), if any."""
        reference = controller_of(job)
        if reference is None or reference.get("kind") != "CronJob":
            return None
        namespace = job["metadata"]["namespace"]
        owner = self.cron_jobs.get(reference.get("name", ""), namespace)
        if owner is None or owner["metadata"].get("uid") != reference.get("uid"):
            return None
        return object_key(owner)

    def _job_changed(self, job: Object) -> None:
        key = self._owner_key(job)
        if key is not None:
            self.queue.add(key)

    def _job_updated(self, old: Object, new: Object) -> None:
        if controller_of(old) != controller_of(new):
            self._job_changed(old)
        self._job_changed(new)

    # -- sync --------------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        cached = self.cron_jobs.get(name, namespace)
        if cached is None:
            return Result()
        if resource_version(cached) < self.written.get(key, 0):
            log.debug("cronjob %s: the cache has not seen our last status write yet", key)
            return Result()  # its event brings us back
        try:
            wait = await self._reconcile(key, cached)
        except errors.Conflict:
            return Result(requeue=True)  # someone changed it meanwhile: look again, with backoff
        if wait is None:
            return Result()
        return Result(requeue_after=max(wait, NEXT_SCHEDULE_DELTA))

    async def _reconcile(self, key: str, cached: Object) -> float | None:
        """Prune, sync and write the status (also when the sync failed half-way, as
        upstream does: what was done must be recorded); seconds until the next look."""
        jobs = self.jobs.by_index(_OWNER_INDEX, cached["metadata"]["uid"])
        sync = _CronJobSync(self, copy.deepcopy(cached), jobs)
        try:
            await sync.prune_history()
            return await sync.run()
        finally:
            if sync.status_changed:
                await self._write_status(key, sync.cron_job)

    async def _write_status(self, key: str, cron_job: Object) -> None:
        written = await self.client.replace(CRON_JOBS, cron_job, subresource="status")
        self.written[key] = resource_version(written)


class _CronJobSync:
    """One sync of one CronJob; ``cron_job`` is a private copy whose status it edits."""

    def __init__(self, owner: CronJobController, cron_job: Object, jobs: list[Object]) -> None:
        self.owner = owner
        self.client = owner.client
        self.recorder = owner.recorder
        self.cron_job = cron_job
        self.jobs = jobs
        self.now = owner.wall_clock()
        self.status_changed = False

    @property
    def spec(self) -> Object:
        return self.cron_job["spec"]

    @property
    def status(self) -> Object:
        return self.cron_job.setdefault("status", {})

    def event(self, kind: str, reason: str, message: str) -> None:
        self.recorder.event(self.cron_job, kind, reason, message)

    # -- history -------------------------------------------------------------------

    async def prune_history(self) -> None:
        """Delete the oldest finished Jobs beyond the successful and failed history limits."""
        for kind, limit_field in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = self.spec.get(limit_field)
            if limit is None:
                continue
            finished = [job for job in self.jobs if finished_condition(job) == kind]
            surplus = len(finished) - limit
            if surplus <= 0:
                continue
            for job in sorted(finished, key=_by_start_time)[:surplus]:
                await self.delete_job(job)

    async def delete_job(self, job: Object) -> bool:
        """Delete ``job`` (its pods follow in the background) and drop it from ``active``."""
        name = job["metadata"]["name"]
        try:
            await self.client.delete(
                JOBS, name, namespace=job["metadata"]["namespace"], propagation_policy="Background"
            )
        except errors.NotFound:
            self.remove_active(job["metadata"]["uid"])  # gone already (our cache lags)
            return True
        except errors.ApiError as error:
            self.event("Warning", "FailedDelete", f"Deleted job: {error}")
            log.error("deleting job %s of cronjob %s: %s", name, object_key(self.cron_job), error)
            return False
        self.remove_active(job["metadata"]["uid"])
        self.event("Normal", "SuccessfulDelete", f"Deleted job {name}")
        return True

    # -- active list ----------------------------------------------------------------

    def active(self) -> list[Object]:
        return list(self.status.get("active") or ())

    def is_active(self, uid: str) -> bool:
        return any(reference.get("uid") == uid for reference in self.active())

    def remove_active(self, uid: str) -> None:
        remaining = [reference for reference in self.active() if reference.get("uid") != uid]
        if len(remaining) != len(self.active()):
            self.status["active"] = remaining
            self.status_changed = True

    async def reconcile_active(self) -> None:
        """Match ``status.active`` with the Jobs: finished ones leave, vanished ones too."""
        for job in self.jobs:
            uid = job["metadata"]["uid"]
            finished = finished_condition(job)
            if finished is None:
                if not self.is_active(uid) and not await self._active_on_server(uid):
                    self.event(
                        "Warning",
                        "UnexpectedJob",
                        f"Saw a job that the controller did not create or forgot: "
                        f"{job['metadata']['name']}",
                    )
                continue
            if self.is_active(uid):
                self.remove_active(uid)
                self.event(
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, condition: {finished}",
                )
            if finished == "Complete":
                self._note_success(job)
        await self._drop_missing_jobs()

    async def _active_on_server(self, uid: str) -> bool:
        """Whether the CronJob as the server has it lists ``uid``: a Job is only unexpected
        if the latest status does not know it either (the cache may lag behind)."""
        meta = self.cron_job["metadata"]
        fresh = await self.client.get(CRON_JOBS, meta["name"], namespace=meta["namespace"])
        active = (fresh.get("status") or {}).get("active") or ()
        return any(reference.get("uid") == uid for reference in active)

    def _note_success(self, job: Object) -> None:
        completed = (job.get("status") or {}).get("completionTime")
        last = self.status.get("lastSuccessfulTime")
        if completed is None:
            return
        last_time = parse_timestamp(last or "")
        completed_time = parse_timestamp(completed)
        if last_time is None or (completed_time is not None and completed_time > last_time):
            self.status["lastSuccessfulTime"] = completed
            self.status_changed = True

    async def _drop_missing_jobs(self) -> None:
        """Active Jobs the cache does not know: gone for real only if the server agrees."""
        known = {job["metadata"]["uid"] for job in self.jobs}
        for reference in self.active():
            if reference.get("uid") in known:
                continue
            try:
                await self.client.get(JOBS, reference["name"], namespace=reference["namespace"])
            except errors.NotFound:
                self.event("Normal", "MissingJob", f"Active job went missing: {reference['name']}")
                self.remove_active(reference.get("uid", ""))

    # -- scheduling -----------------------------------------------------------------

    async def run(self) -> float | None:
        """Reconcile, then start the due Job if one is owed; seconds until the next look."""
        await self.reconcile_active()
        if self.cron_job["metadata"].get("deletionTimestamp"):
            return None
        zone = self._zone()
        if zone is None or self.spec.get("suspend"):
            return None
        schedule = self._schedule()
        if schedule is None:
            return None
        try:
            unmet = most_recent_schedule_time(
                schedule,
                earliest_time(self.cron_job),
                self.now,
                self.spec.get("startingDeadlineSeconds"),
            )
        except ScheduleNeverFires as error:
            self._invalid_schedule(str(error))
            return None
        scheduled = unmet.most_recent
        if scheduled is not None and unmet.missed is Missed.MANY:
            self.event(
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
            )
            log.info("too many missed times for cronjob %s", object_key(self.cron_job))
        if scheduled is not None and self._may_start(scheduled):
            await self._start(scheduled, zone)
        return requeue_after(schedule, earliest_time(self.cron_job), self.now)

    def _zone(self) -> tzinfo | None:
        """The zone of the CronJob's Jobs' timestamps; None (and an Event) if it is unknown."""
        name = self.spec.get("timeZone")
        try:
            return cron.load_location(name or "")
        except cron.LocationError as error:
            self.event("Warning", "UnknownTimeZone", f'invalid timeZone: "{name}": {error}')
            return None

    def _schedule(self) -> cron.Schedule | None:
        text = self.spec.get("schedule", "")
        if "TZ" in text:
            self.event(
                "Warning",
                "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{text}" is not officially supported, see '
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                "for more details",
            )
        try:
            return cron.parse_standard(format_schedule(self.cron_job))
        except cron.ScheduleError as error:
            log.info("unparseable schedule %r of cronjob %s: %s", text, self.key, error)
            self.event(
                "Warning", "UnparseableSchedule", f'unparseable schedule: "{text}" : {error}'
            )
            return None

    def _invalid_schedule(self, problem: str) -> None:
        text = self.spec.get("schedule", "")
        log.info("invalid schedule %r of cronjob %s: %s", text, self.key, problem)
        self.event("Warning", "InvalidSchedule", f"invalid schedule: {text} : {problem}")

    @property
    def key(self) -> str:
        return object_key(self.cron_job)

    def _may_start(self, scheduled: float) -> bool:
        """Whether the due time ``scheduled`` may start now (deadline, done, concurrency)."""
        deadline = self.spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + deadline < self.now:
            moment = datetime.fromtimestamp(scheduled, UTC)
            self.event(
                "Warning",
                "MissSchedule",
                "Missed scheduled time to start a job: "
                + moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            )
            return False
        name = job_name(self.cron_job, scheduled)
        last = parse_timestamp(self.status.get("lastScheduleTime") or "")
        already = any(reference.get("name") == name for reference in self.active())
        if already or (last is not None and last.timestamp() == scheduled):
            return False  # this time has its Job already
        if self.spec.get("concurrencyPolicy") == "Forbid" and self.active():
            self.event(
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return False
        return True

    async def _start(self, scheduled: float, zone: tzinfo) -> None:
        if self.spec.get("concurrencyPolicy") == "Replace":
            await self._replace_active()
        wanted = job_from_template(self.cron_job, scheduled, zone)
        namespace = self.cron_job["metadata"]["namespace"]
        try:
            job = await self.client.create(JOBS, wanted, namespace=namespace)
        except errors.AlreadyExists:
            job = await self.client.get(JOBS, wanted["metadata"]["name"], namespace=namespace)
            reference = controller_of(job)
            mine = (
                reference is not None and reference.get("uid") == self.cron_job["metadata"]["uid"]
            )
            if not mine or self.is_active(job["metadata"]["uid"]):
                return  # someone else's Job, or already recorded
            log.info("job %s of cronjob %s already exists", job["metadata"]["name"], self.key)
        except errors.ApiError as error:
            if not errors.namespace_terminating(error):
                self.event("Warning", "FailedCreate", f"Error creating job: {error}")
            raise
        else:
            self.event("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        self.status["active"] = [*self.active(), object_reference(job)]
        self.status["lastScheduleTime"] = timestamp(datetime.fromtimestamp(scheduled, UTC))
        self.status_changed = True

    async def _replace_active(self) -> None:
        """Concurrency policy Replace: delete every running Job before starting the next."""
        for reference in self.active():
            try:
                job = await self.client.get(
                    JOBS, reference["name"], namespace=reference["namespace"]
                )
            except errors.ApiError as error:
                self.event("Warning", "FailedGet", f"Get job: {error}")
                raise
            if not await self.delete_job(job):
                raise RuntimeError(f"could not replace job {object_key(job)}")


def _by_start_time(job: Object) -> tuple[bool, float, str]:
    """Oldest start first; Jobs that never started last; names break ties."""
    started = parse_timestamp((job.get("status") or {}).get("startTime") or "")
    moment = started.timestamp() if started is not None else 0.0
    return (started is None, moment, job["metadata"]["name"])
