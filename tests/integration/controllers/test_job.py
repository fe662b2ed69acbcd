"""The job controller against the real API server; the test plays the kubelet's part."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from tests.integration.controllers.harness import WallClock, eventually, running_controllers

Object = dict[str, Any]
JOBS = built_in("batch", "v1", "jobs")
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
TRACKING = "batch.kubernetes.io/job-tracking"


def job(name: str, **spec: Any) -> Object:
    template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    }
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


async def pods_of(api: ApiClient, name: str) -> list[Object]:
    listed = await api.list(PODS, namespace="default", label_selector=f"job-name={name}")
    return listed["items"]


async def running_pods(api: ApiClient, name: str) -> list[Object]:
    return [
        pod
        for pod in await pods_of(api, name)
        if not pod["metadata"].get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]


async def finish(api: ApiClient, pod: Object, phase: str) -> None:
    """Report the pod Succeeded or Failed, as its kubelet would."""
    fresh = await api.get(PODS, pod["metadata"]["name"], namespace="default")
    fresh["status"] = {**fresh.get("status", {}), "phase": phase}
    await api.replace(PODS, fresh, subresource="status")


async def get_job(api: ApiClient, name: str) -> Object:
    return await api.get(JOBS, name, namespace="default")


def condition(job: Object, kind: str) -> Object | None:
    for found in job.get("status", {}).get("conditions", ()):
        if found["type"] == kind and found["status"] == "True":
            return found
    return None


async def recorded(api: ApiClient, name: str, reason: str) -> bool:
    """Whether an Event of ``reason`` about ``name`` exists (events are written asynchronously)."""
    listed = await api.list(
        EVENTS, namespace="default", field_selector=f"involvedObject.name={name}"
    )
    return any(event["reason"] == reason for event in listed["items"])


async def touch(api: ApiClient, name: str) -> None:
    """Change the Job so its controller looks again (after the test moved the clock)."""
    await api.patch(
        JOBS, name, {"metadata": {"annotations": {"touched": str(id(name))}}}, namespace="default"
    )


async def test_completions_run_at_most_parallelism_pods_and_each_outcome_counts_once(
    api: ApiClient,
) -> None:
    async with running_controllers(api, "job"):
        await api.create(JOBS, job("work", completions=3, parallelism=2), namespace="default")
        for round_ in range(3):
            wanted = min(2, 3 - round_)
            running = await eventually(
                lambda wanted=wanted: _exactly(running_pods(api, "work"), wanted)
            )
            assert all(TRACKING in pod["metadata"]["finalizers"] for pod in running)
            await finish(api, running[0], "Succeeded")

        done = await eventually(lambda: _with_condition(api, "work", "Complete"))
        assert done["status"]["succeeded"] == 3
        assert done["status"].get("failed", 0) == 0
        assert done["status"]["completionTime"]
        pods = await pods_of(api, "work")
        assert all(TRACKING not in (pod["metadata"].get("finalizers") or ()) for pod in pods)
        await eventually(lambda: recorded(api, "work", "Completed"))


async def test_a_release_seen_before_its_patch_returns_neither_adds_nor_fails_a_pod(
    api: ApiClient, monkeypatch: Any
) -> None:
    """The informer may deliver a pod's finalizer removal while the patch that removed it
    is still being awaited (a busy machine did): the pod is counted, never replaced by an
    extra pod that completion then deletes and counts as failed."""
    async with running_controllers(api, "job") as manager:
        pods = manager.context.informers.informer(PODS)
        patch = api.patch

        async def patch_then_see_it(resource: Any, name: str, body: Any, **options: Any) -> Any:
            result = await patch(resource, name, body, **options)
            if resource == PODS:
                key = f"default/{name}"

                async def seen() -> bool:
                    cached = pods.store.get(key)
                    return cached is None or TRACKING not in cached["metadata"].get(
                        "finalizers", ()
                    )

                await eventually(seen)
            return result

        monkeypatch.setattr(api, "patch", patch_then_see_it)
        await api.create(JOBS, job("steady", completions=3, parallelism=2), namespace="default")
        for round_ in range(3):
            wanted = min(2, 3 - round_)
            running = await eventually(
                lambda wanted=wanted: _exactly(running_pods(api, "steady"), wanted)
            )
            await finish(api, running[0], "Succeeded")
        await eventually(lambda: _with_condition(api, "steady", "Complete"))
        await eventually(lambda: _all_released(api, "steady"))
        done = await get_job(api, "steady")
        assert (done["status"]["succeeded"], done["status"].get("failed", 0)) == (3, 0)
        await eventually(lambda: recorded(api, "steady", "Completed"))
        created = await api.list(
            EVENTS, namespace="default", field_selector="reason=SuccessfulCreate"
        )
        assert len(created["items"]) == 3


async def test_failures_past_the_backoff_limit_fail_the_job_and_remove_its_pods(
    api: ApiClient,
) -> None:
    clock = WallClock()
    async with running_controllers(api, "job", wall_clock=clock):
        await api.create(JOBS, job("flaky", backoffLimit=1), namespace="default")
        [first] = await eventually(lambda: _exactly(running_pods(api, "flaky"), 1))
        await finish(api, first, "Failed")
        counted = await eventually(lambda: _status_at_least(api, "flaky", "failed", 1))
        assert not await running_pods(api, "flaky"), "the replacement waits out the 10 s backoff"
        assert counted["status"].get("active", 0) == 0

        clock.advance(11)
        await touch(api, "flaky")
        [second] = await eventually(lambda: _exactly(running_pods(api, "flaky"), 1))
        await finish(api, second, "Failed")

        failed = await eventually(lambda: _with_condition(api, "flaky", "Failed"))
        assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
        assert failed["status"]["failed"] == 2
        await eventually(lambda: recorded(api, "flaky", "BackoffLimitExceeded"))
        assert not await running_pods(api, "flaky")


async def test_an_indexed_job_runs_each_index_once_and_reports_completed_indexes(
    api: ApiClient,
) -> None:
    async with running_controllers(api, "job"):
        spec = {"completions": 3, "parallelism": 3, "completionMode": "Indexed"}
        await api.create(JOBS, job("indexed", **spec), namespace="default")
        pods = await eventually(lambda: _exactly(running_pods(api, "indexed"), 3))
        by_index = {
            pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]: pod
            for pod in pods
        }
        assert sorted(by_index) == ["0", "1", "2"]
        assert by_index["1"]["spec"]["hostname"] == "indexed-1"
        env = by_index["1"]["spec"]["containers"][0]["env"]
        assert {"name": "JOB_COMPLETION_INDEX"}.items() <= env[0].items()

        await finish(api, by_index["0"], "Succeeded")
        await finish(api, by_index["2"], "Succeeded")
        partial = await eventually(lambda: _status_at_least(api, "indexed", "succeeded", 2))
        assert partial["status"]["completedIndexes"] == "0,2"
        await finish(api, by_index["1"], "Succeeded")
        done = await eventually(lambda: _with_condition(api, "indexed", "Complete"))
        assert done["status"]["completedIndexes"] == "0-2"


async def test_an_active_deadline_fails_the_job_once_the_clock_passes_it(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "job", wall_clock=clock):
        await api.create(JOBS, job("slow", activeDeadlineSeconds=100), namespace="default")
        await eventually(lambda: _exactly(running_pods(api, "slow"), 1))
        clock.advance(101)
        await touch(api, "slow")
        failed = await eventually(lambda: _with_condition(api, "slow", "Failed"))
        assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"
        await eventually(lambda: _none_left(api, "slow"))


async def test_a_suspended_job_runs_nothing_until_resumed(api: ApiClient) -> None:
    async with running_controllers(api, "job"):
        await api.create(
            JOBS, job("later", suspend=True, parallelism=2, completions=2), namespace="default"
        )
        suspended = await eventually(lambda: _with_condition(api, "later", "Suspended"))
        assert condition(suspended, "Suspended")["reason"] == "JobSuspended"
        assert await pods_of(api, "later") == []

        await api.patch(JOBS, "later", {"spec": {"suspend": False}}, namespace="default")
        await eventually(lambda: _exactly(running_pods(api, "later"), 2))

        async def resumed() -> Object | None:
            found = await get_job(api, "later")
            return found if condition(found, "Suspended") is None else None

        assert (await eventually(resumed))["status"]["startTime"]


async def _exactly(listing, count: int) -> list[Object] | None:
    found = await listing
    return found if len(found) == count else None


async def _all_released(api: ApiClient, name: str) -> bool:
    pods = await pods_of(api, name)
    return all(TRACKING not in (pod["metadata"].get("finalizers") or ()) for pod in pods)


async def _none_left(api: ApiClient, name: str) -> bool:
    return not await pods_of(api, name)


async def _with_condition(api: ApiClient, name: str, kind: str) -> Object | None:
    found = await get_job(api, name)
    return found if condition(found, kind) else None


async def _status_at_least(api: ApiClient, name: str, field: str, value: int) -> Object | None:
    found = await get_job(api, name)
    return found if found.get("status", {}).get(field, 0) >= value else None
