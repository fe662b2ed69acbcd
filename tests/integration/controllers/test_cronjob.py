"""The cronjob controller against the real API server, with an injected wall clock.

The clock jumps to just before or after a scheduled minute; touching the
CronJob makes the controller look again at once (its own requeue waits on
the real event loop). Jobs finish by a status write, as the job controller
would write it, unless the job controller itself runs.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from pynetes.api.meta import parse_timestamp, timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.controllermanager import ControllerManager
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import (
    WallClock,
    eventually,
    processed,
    running_controllers,
)

Object = dict[str, Any]
CRON_JOBS = built_in("batch", "v1", "cronjobs")
JOBS = built_in("batch", "v1", "jobs")
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def cron_job(name: str, schedule: str, **spec: Any) -> Object:
    pod = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    template = {
        "metadata": {"labels": {"app": name}, "annotations": {"team": "night"}},
        "spec": {"backoffLimit": 0, "template": {"spec": pod}},
    }
    return {
        "metadata": {"name": name},
        "spec": {"schedule": schedule, "jobTemplate": template, **spec},
    }


async def create(api: ApiClient, obj: Object) -> float:
    """Create the CronJob; its creation time (where its schedule starts counting)."""
    created = await api.create(CRON_JOBS, obj, namespace="default")
    moment = parse_timestamp(created["metadata"]["creationTimestamp"])
    assert moment is not None
    return moment.timestamp()


def next_minute(moment: float) -> float:
    return (math.floor(moment / 60) + 1) * 60


def job_name(cron_name: str, scheduled: float) -> str:
    return f"{cron_name}-{int(scheduled // 60)}"


async def jobs_of(api: ApiClient, cron_name: str) -> list[str]:
    listed = await api.list(JOBS, namespace="default")
    return sorted(
        job["metadata"]["name"]
        for job in listed["items"]
        if any(ref["name"] == cron_name for ref in job["metadata"].get("ownerReferences", ()))
        and not job["metadata"].get("deletionTimestamp")
    )


async def get(api: ApiClient, resource: Any, name: str) -> Object | None:
    try:
        return await api.get(resource, name, namespace="default")
    except errors.NotFound:
        return None


async def touch(api: ApiClient, name: str) -> None:
    """Change the CronJob so its controller looks again (after the clock moved)."""
    patch = {"metadata": {"annotations": {"touched": str(id(object()))}}}
    await api.patch(CRON_JOBS, name, patch, namespace="default")


async def look_again(manager: ControllerManager, api: ApiClient, name: str) -> None:
    """Touch the CronJob and wait until the controller has synced it."""
    await processed(manager, "cronjob", lambda: touch(api, name))


async def finish(api: ApiClient, name: str, kind: str, at: float) -> None:
    """Mark a Job Complete or Failed at wall time ``at``."""
    fresh = await api.get(JOBS, name, namespace="default")
    stamp = timestamp(datetime.fromtimestamp(at, UTC))
    condition = {"type": kind, "status": "True", "lastTransitionTime": stamp}
    fresh["status"] = {"startTime": stamp, "conditions": [condition]}
    if kind == "Complete":
        fresh["status"]["completionTime"] = stamp
    await api.replace(JOBS, fresh, subresource="status")


async def event_messages(api: ApiClient, name: str, reason: str) -> list[str]:
    listed = await api.list(
        EVENTS, namespace="default", field_selector=f"involvedObject.name={name}"
    )
    return [event["message"] for event in listed["items"] if event["reason"] == reason]


async def active_names(api: ApiClient, name: str) -> list[str]:
    found = await api.get(CRON_JOBS, name, namespace="default")
    return sorted(ref["name"] for ref in found.get("status", {}).get("active") or ())


async def test_a_job_starts_at_its_scheduled_minute_and_not_before(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        created = await create(api, cron_job("minutely", "* * * * *"))
        due = next_minute(created)
        clock.now = due - 1
        await look_again(manager, api, "minutely")
        assert await jobs_of(api, "minutely") == []

        clock.now = due + 1
        await touch(api, "minutely")
        name = job_name("minutely", due)
        await eventually(lambda: _equals(jobs_of(api, "minutely"), [name]))
        job = await api.get(JOBS, name, namespace="default")
        [owner] = job["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "minutely", True)
        assert job["metadata"]["labels"]["app"] == "minutely"
        assert job["metadata"]["annotations"]["team"] == "night"
        scheduled = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert job["metadata"]["annotations"][SCHEDULED] == scheduled
        assert job["spec"]["backoffLimit"] == 0

        await eventually(lambda: _equals(active_names(api, "minutely"), [name]))
        status = (await api.get(CRON_JOBS, "minutely", namespace="default"))["status"]
        assert status["lastScheduleTime"] == scheduled
        assert status["active"][0]["uid"] == job["metadata"]["uid"]
        messages = await eventually(lambda: event_messages(api, "minutely", "SuccessfulCreate"))
        assert messages == [f"Created job {name}"]


async def test_forbid_skips_a_run_while_the_previous_job_runs(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        created = await create(api, cron_job("single", "* * * * *", concurrencyPolicy="Forbid"))
        first = next_minute(created)
        clock.now = first + 1
        await touch(api, "single")
        await eventually(lambda: _equals(active_names(api, "single"), [job_name("single", first)]))

        clock.now = first + 61
        await look_again(manager, api, "single")
        assert await jobs_of(api, "single") == [job_name("single", first)]
        await eventually(lambda: event_messages(api, "single", "JobAlreadyActive"))

        # the running job finishes: the skipped minute's run may start now
        await finish(api, job_name("single", first), "Complete", clock.now)
        second = job_name("single", first + 60)
        await eventually(lambda: _equals(active_names(api, "single"), [second]))
        status = (await api.get(CRON_JOBS, "single", namespace="default"))["status"]
        assert status["lastSuccessfulTime"] == timestamp(datetime.fromtimestamp(clock.now, UTC))
        seen = await eventually(lambda: event_messages(api, "single", "SawCompletedJob"))
        assert seen == [f"Saw completed job: {job_name('single', first)}, condition: Complete"]


async def test_replace_deletes_the_running_job_and_starts_the_next(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock):
        created = await create(api, cron_job("replacing", "* * * * *", concurrencyPolicy="Replace"))
        first = next_minute(created)
        old, new = job_name("replacing", first), job_name("replacing", first + 60)
        clock.now = first + 1
        await touch(api, "replacing")
        await eventually(lambda: _equals(active_names(api, "replacing"), [old]))

        clock.now = first + 61
        await touch(api, "replacing")
        await eventually(lambda: _equals(active_names(api, "replacing"), [new]))
        assert await get(api, JOBS, old) is None
        assert await jobs_of(api, "replacing") == [new]
        deleted = await eventually(lambda: event_messages(api, "replacing", "SuccessfulDelete"))
        assert deleted == [f"Deleted job {old}"]


async def test_history_limits_prune_the_oldest_finished_jobs(api: ApiClient) -> None:
    """The job controller runs the Jobs; the test plays the kubelet."""
    clock = WallClock()
    limits = {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0}
    async with running_controllers(api, "cronjob", "job", wall_clock=clock):
        created = await create(api, cron_job("pruned", "* * * * *", **limits))
        start = next_minute(created)
        for minute, phase in enumerate(("Succeeded", "Failed", "Succeeded")):
            clock.now = start + 60 * minute + 1
            await touch(api, "pruned")
            name = job_name("pruned", start + 60 * minute)
            pod = await eventually(lambda name=name: _pod_of(api, name))
            pod["status"] = {**pod.get("status", {}), "phase": phase}
            await api.replace(PODS, pod, subresource="status")
            await eventually(lambda name=name: _finished(api, name))

        latest = job_name("pruned", start + 120)
        await eventually(lambda: _equals(jobs_of(api, "pruned"), [latest]))
        await eventually(lambda: _equals(active_names(api, "pruned"), []))
        status = (await api.get(CRON_JOBS, "pruned", namespace="default"))["status"]
        assert status["lastSuccessfulTime"]
        deleted = await eventually(
            lambda: _at_least(event_messages(api, "pruned", "SuccessfulDelete"), 2)
        )
        assert sorted(deleted) == sorted(
            f"Deleted job {job_name('pruned', start + 60 * minute)}" for minute in (0, 1)
        )


async def test_a_time_zone_schedule_fires_at_that_zones_wall_time(api: ApiClient) -> None:
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")  # +05:30: 09:00 there is 03:30 UTC
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        created = await create(api, cron_job("zoned", "0 9 * * *", timeZone="Asia/Kolkata"))
        local = datetime.fromtimestamp(created, kolkata)
        due_local = local.replace(hour=9, minute=0, second=0, microsecond=0)
        if due_local <= local:
            due_local += timedelta(days=1)
        due = due_local.timestamp()
        clock.now = due - 1
        await look_again(manager, api, "zoned")
        assert await jobs_of(api, "zoned") == []

        clock.now = due + 1
        await touch(api, "zoned")
        name = job_name("zoned", due)
        await eventually(lambda: _equals(jobs_of(api, "zoned"), [name]))
        job = await api.get(JOBS, name, namespace="default")
        expected = due_local.strftime("%Y-%m-%dT09:00:00+05:30")
        assert job["metadata"]["annotations"][SCHEDULED] == expected


async def test_a_suspended_cron_job_starts_nothing_until_resumed(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        created = await create(api, cron_job("paused", "* * * * *", suspend=True))
        due = next_minute(created)
        clock.now = due + 1
        await look_again(manager, api, "paused")
        assert await jobs_of(api, "paused") == []

        resume = {"spec": {"suspend": False}}
        await api.patch(CRON_JOBS, "paused", resume, namespace="default")
        await eventually(lambda: _equals(jobs_of(api, "paused"), [job_name("paused", due)]))


async def test_a_run_missed_by_more_than_the_starting_deadline_is_skipped(
    api: ApiClient,
) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        spec = {"startingDeadlineSeconds": 10}
        created = await create(api, cron_job("strict", "* * * * *", **spec))
        missed = next_minute(created)
        clock.now = missed + 30
        await look_again(manager, api, "strict")
        assert await jobs_of(api, "strict") == []

        clock.now = missed + 65  # the next minute is within its deadline
        await touch(api, "strict")
        await eventually(lambda: _equals(jobs_of(api, "strict"), [job_name("strict", missed + 60)]))


async def test_an_active_job_deleted_behind_its_back_leaves_the_active_list(
    api: ApiClient,
) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock):
        created = await create(api, cron_job("vanishing", "* * * * *"))
        due = next_minute(created)
        clock.now = due + 1
        await touch(api, "vanishing")
        name = job_name("vanishing", due)
        await eventually(lambda: _equals(active_names(api, "vanishing"), [name]))

        await api.delete(JOBS, name, namespace="default")
        await eventually(lambda: _equals(active_names(api, "vanishing"), []))
        missing = await eventually(lambda: event_messages(api, "vanishing", "MissingJob"))
        assert missing == [f"Active job went missing: {name}"]
        assert await jobs_of(api, "vanishing") == [], "the minute it ran for does not run again"


async def test_too_many_missed_times_warns_and_still_starts_the_latest(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock):
        created = await create(api, cron_job("late", "* * * * *"))
        latest = next_minute(created) + 60 * 150
        clock.now = latest + 1
        await touch(api, "late")
        await eventually(lambda: _equals(jobs_of(api, "late"), [job_name("late", latest)]))
        warned = await eventually(lambda: event_messages(api, "late", "TooManyMissedTimes"))
        assert warned[0] == (
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
            "or check clock skew"
        )


async def test_a_schedule_that_never_fires_is_reported_without_retries(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock) as manager:
        await create(api, cron_job("never", "0 0 * * *"))

        async def retries() -> float | None:
            labels = {"name": "cronjob"}
            return manager.context.registry.get_sample_value("workqueue_retries_total", labels)

        waiting = await eventually(retries)  # the valid schedule's wake-up
        never = {"spec": {"schedule": "0 0 30 2 *"}}  # accepted: February 30th never comes
        await processed(
            manager, "cronjob", lambda: api.patch(CRON_JOBS, "never", never, namespace="default")
        )
        messages = await eventually(lambda: event_messages(api, "never", "InvalidSchedule"))
        assert messages == [
            "invalid schedule: 0 0 30 2 * : "
            "time difference between two schedules is less than 1 second"
        ]
        clock.advance(400 * 24 * 3600)
        await look_again(manager, api, "never")
        assert await retries() == waiting, "no wake-up is scheduled for it"
        assert await jobs_of(api, "never") == []


async def test_kubectl_create_job_from_a_cron_job(api: ApiClient, cluster: Cluster) -> None:
    clock = WallClock()
    async with running_controllers(api, "cronjob", wall_clock=clock):
        await create(api, cron_job("manual", "0 0 * * *"))
        kubectl = cluster.kubectl()
        _, out, _ = await kubectl("create", "job", "--from=cronjob/manual", "by-hand")
        assert "job.batch/by-hand created" in out
        job = await api.get(JOBS, "by-hand", namespace="default")
        [owner] = job["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("CronJob", "manual")
        assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
        assert job["metadata"]["labels"]["app"] == "manual"
        # not a Job the controller started: it says so, and does not track it as active
        messages = await eventually(lambda: event_messages(api, "manual", "UnexpectedJob"))
        assert messages == ["Saw a job that the controller did not create or forgot: by-hand"]
        assert await active_names(api, "manual") == []


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


async def _at_least(messages: Any, count: int) -> list[str] | None:
    found = await messages
    return found if len(found) >= count else None


async def _pod_of(api: ApiClient, job_name: str) -> Object | None:
    listed = await api.list(PODS, namespace="default", label_selector=f"job-name={job_name}")
    return listed["items"][0] if listed["items"] else None


async def _finished(api: ApiClient, name: str) -> bool:
    job = await get(api, JOBS, name)
    if job is None:
        return True  # already pruned
    conditions = job.get("status", {}).get("conditions") or ()
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions)
