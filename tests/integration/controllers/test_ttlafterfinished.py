"""The ttl-after-finished controller against the real API server, with an injected wall clock.

The test finishes Jobs by writing their status, as the job controller would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynetes.api.meta import timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.controllers.harness import (
    WallClock,
    eventually,
    processed,
    running_controllers,
)

Object = dict[str, Any]
JOBS = built_in("batch", "v1", "jobs")
QUEUE = "ttl_jobs_to_delete"


def job(name: str, ttl: int | None) -> Object:
    template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    }
    spec: Object = {"template": template}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"metadata": {"name": name}, "spec": spec}


async def finish(api: ApiClient, name: str, kind: str, at: float) -> None:
    """Mark the Job Complete or Failed at wall time ``at``, as the job controller does."""
    fresh = await api.get(JOBS, name, namespace="default")
    stamp = timestamp(datetime.fromtimestamp(at, UTC))
    condition = {"type": kind, "status": "True", "lastTransitionTime": stamp}
    fresh["status"] = {"startTime": stamp, "conditions": [condition]}
    if kind == "Complete":
        fresh["status"]["completionTime"] = stamp
    await api.replace(JOBS, fresh, subresource="status")


async def touch(api: ApiClient, name: str) -> None:
    await api.patch(
        JOBS,
        name,
        {"metadata": {"annotations": {"touched": str(id(object()))}}},
        namespace="default",
    )


async def deleting(api: ApiClient, name: str) -> Object | None:
    """The Job once it is being deleted (or None if it still is not)."""
    try:
        found = await api.get(JOBS, name, namespace="default")
    except errors.NotFound:
        return {"gone": True}
    return found if found["metadata"].get("deletionTimestamp") else None


async def test_a_finished_job_is_deleted_in_the_foreground_once_its_ttl_has_passed(
    api: ApiClient,
) -> None:
    clock = WallClock()
    finished_at = clock.now
    async with running_controllers(api, "ttl-after-finished", wall_clock=clock) as manager:
        await api.create(JOBS, job("done", ttl=100), namespace="default")
        await processed(manager, QUEUE, lambda: finish(api, "done", "Complete", finished_at))
        clock.advance(99)
        await processed(manager, QUEUE, lambda: touch(api, "done"))
        assert await deleting(api, "done") is None, "not before the TTL has passed"

        clock.advance(2)
        await touch(api, "done")
        doomed = await eventually(lambda: deleting(api, "done"))
        assert "foregroundDeletion" in doomed["metadata"]["finalizers"]


async def test_a_failed_job_expires_too_and_jobs_without_ttl_or_unfinished_stay(
    api: ApiClient,
) -> None:
    clock = WallClock()
    async with running_controllers(api, "ttl-after-finished", wall_clock=clock) as manager:
        await api.create(JOBS, job("failed", ttl=0), namespace="default")
        await api.create(JOBS, job("kept", ttl=None), namespace="default")
        await api.create(JOBS, job("running", ttl=0), namespace="default")
        await finish(api, "kept", "Complete", clock.now - 3600)
        # the cache sees these events in order: "kept" and "running" were judged before
        await processed(manager, QUEUE, lambda: finish(api, "failed", "Failed", clock.now))
        await eventually(lambda: deleting(api, "failed"))
        assert await deleting(api, "kept") is None
        assert await deleting(api, "running") is None


async def test_a_job_whose_ttl_was_raised_meanwhile_is_not_deleted(api: ApiClient) -> None:
    clock = WallClock()
    finished_at = clock.now
    async with running_controllers(api, "ttl-after-finished", wall_clock=clock) as manager:
        await api.create(JOBS, job("extended", ttl=10), namespace="default")
        await processed(manager, QUEUE, lambda: finish(api, "extended", "Complete", finished_at))
        clock.advance(5)
        raise_ttl = {"spec": {"ttlSecondsAfterFinished": 1000}}
        await processed(
            manager,
            QUEUE,
            lambda: api.patch(JOBS, "extended", raise_ttl, namespace="default"),
        )
        clock.advance(60)  # past the old TTL, well before the new one
        await processed(manager, QUEUE, lambda: touch(api, "extended"))
        assert await deleting(api, "extended") is None

        clock.advance(1000)
        await touch(api, "extended")
        await eventually(lambda: deleting(api, "extended"))
