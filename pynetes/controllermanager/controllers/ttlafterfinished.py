"""The ttl-after-finished controller: finished Jobs go ``ttlSecondsAfterFinished`` later.

As upstream's TTLAfterFinishedController: a Job whose Complete or Failed
condition is true and that sets ``spec.ttlSecondsAfterFinished`` expires
that many seconds after the condition's ``lastTransitionTime``, judged by
``context.wall_clock``. Before expiry the Job is requeued for the
remainder; at expiry the Job is read again from the API server (the cached
copy may carry an old TTL) and deleted with Foreground propagation and a
uid precondition only if that fresh copy has expired too.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pynetes.api.meta import parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)
Object = dict[str, Any]

JOBS = built_in("batch", "v1", "jobs")


def needs_cleanup(job: Object) -> bool:
    """Not being deleted, has a TTL, and has finished."""
    if job["metadata"].get("deletionTimestamp"):
        return False
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    return ttl is not None and finish_time(job) is not None


def finish_time(job: Object) -> float | None:
    """When the Job finished: its true Complete or Failed condition's transition time.

    None if it has not finished, or (upstream reports an error there) if that
    condition carries no usable time: nothing can be computed until it does.
    """
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            moment = parse_timestamp(condition.get("lastTransitionTime") or "")
            return moment.timestamp() if moment is not None else None
    return None


class TTLAfterFinishedController:
    """Deletes finished Jobs once their TTL has passed."""

    def __init__(self, context: ControllerContext) -> None:
        self.client = context.client
        self.wall_clock = context.wall_clock
        jobs = context.informers.informer(JOBS)
        self.jobs = Lister(jobs.store)
        self._controller = Controller(
            "ttl_jobs_to_delete",
            self._sync,
            workers=context.workers("concurrent_ttl_after_finished_syncs", 5),
            queue=context.queue("ttl_jobs_to_delete"),
        )
        queue = self._controller.queue

        def job_changed(job: Object) -> None:
            if needs_cleanup(job):
                queue.add(object_key(job))

        jobs.add_event_handler(
            EventHandler(on_add=job_changed, on_update=lambda _old, job: job_changed(job))
        )

    async def run(self) -> None:
        await self._controller.run()

    def time_left(self, job: Object) -> float | None:
        """Seconds until ``job`` expires (at most 0 once it has); None if it never will."""
        if not needs_cleanup(job):
            return None
        finished = finish_time(job)
        assert finished is not None  # needs_cleanup checked it
        now = self.wall_clock()
        if finished > now:
            log.info(
                "job %s finished in the future (clock skew?): its cleanup waits", object_key(job)
            )
        return finished + job["spec"]["ttlSecondsAfterFinished"] - now

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        cached = self.jobs.get(name, namespace)
        if cached is None:
            return Result()
        left = self.time_left(cached)
        if left is None:
            return Result()
        if left > 0:
            return Result(requeue_after=left)
        try:
            fresh = await self.client.get(JOBS, name, namespace=namespace)
        except errors.NotFound:
            return Result()
        left = self.time_left(fresh)  # the TTL may have changed since the cache saw it
        if left is None:
            return Result()
        if left > 0:
            return Result(requeue_after=left)
        log.info("cleaning up job %s", key)
        with contextlib.suppress(errors.NotFound):
            await self.client.delete(
                JOBS,
                name,
                namespace=namespace,
                propagation_policy="Foreground",
                preconditions={"uid": fresh["metadata"]["uid"]},
            )
        return Result()


CONTROLLER = ControllerDescriptor(
    name="ttl-after-finished",
    build=TTLAfterFinishedController,
    concurrency_flag="--concurrent-ttl-after-finished-syncs",
    default_workers=5,
)
