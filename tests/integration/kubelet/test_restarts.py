"""Restart policies and CrashLoopBackOff, through the real API server and a real kubelet."""

from __future__ import annotations

from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.kubelet.agent import (
    PODS,
    ShiftedClocks,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_event,
    wait_for_pod,
)


def waiting_reason(name: str, reason: str):
    def check(found):
        statuses = (found.get("status") or {}).get("containerStatuses") or ()
        return any(
            s["name"] == name and (s["state"].get("waiting") or {}).get("reason") == reason
            for s in statuses
        )

    return check


async def test_a_crashing_container_backs_off_ten_seconds_then_twenty(
    cluster: Cluster, api: ApiClient, tmp_path
):
    clocks = ShiftedClocks()
    async with running_kubelet(cluster, api, tmp_path, clocks=clocks) as agent:
        created = await api.create(PODS, pod("crash", shell("app", "echo boom; exit 3")))
        uid = created["metadata"]["uid"]
        # The first restart is immediate; the second waits 10 s (upstream's back-off).
        first = await wait_for_pod(api, "crash", waiting_reason("app", "CrashLoopBackOff"))
        app = container_status(first, "app")
        assert app["restartCount"] == 1
        assert app["state"]["waiting"]["message"].startswith(
            "back-off 10s restarting failed container=app pod=crash_default("
        )
        assert app["lastState"]["terminated"]["exitCode"] == 3
        assert app["lastState"]["terminated"]["reason"] == "Error"
        await wait_for_event(api, "crash", "BackOff")

        clocks.advance(10)
        assert agent.kubelet is not None
        agent.kubelet.workers.update(uid)

        def backed_off_twice(found):
            app = container_status(found, "app")
            message = (app["state"].get("waiting") or {}).get("message", "")
            return app["restartCount"] == 2 and message.startswith("back-off 20s")

        second = await wait_for_pod(api, "crash", backed_off_twice)
        assert second["status"]["phase"] == "Running"


async def test_on_failure_restarts_until_success_then_the_pod_succeeds(
    cluster: Cluster, api: ApiClient, tmp_path
):
    marker = tmp_path / "ran-once"
    script = f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; exit 1"
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("retry", shell("app", script), restartPolicy="OnFailure"))
        done = await wait_for_pod(api, "retry", phase_is("Succeeded"))
        app = container_status(done, "app")
        assert app["restartCount"] == 1
        assert app["state"]["terminated"]["exitCode"] == 0


async def test_never_leaves_a_failed_pod_failed(cluster: Cluster, api: ApiClient, tmp_path):
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("fail", shell("app", "exit 7"), restartPolicy="Never"))
        failed = await wait_for_pod(api, "fail", phase_is("Failed"))
        terminated = container_status(failed, "app")["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (7, "Error")
        assert container_status(failed, "app")["restartCount"] == 0


async def test_init_containers_run_in_order_before_the_app(
    cluster: Cluster, api: ApiClient, tmp_path
):
    log = tmp_path / "order"
    spec = pod(
        "init",
        shell("app", f"echo app >> {log}; sleep 3600"),
        initContainers=[
            shell("first", f"echo first >> {log}"),
            shell("second", f"echo second >> {log}"),
        ],
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, spec)
        running = await wait_for_pod(api, "init", phase_is("Running"))
        assert log.read_text().split() == ["first", "second", "app"]
        for name in ("first", "second"):
            assert container_status(running, name)["state"]["terminated"]["reason"] == "Completed"
        initialized = next(c for c in running["status"]["conditions"] if c["type"] == "Initialized")
        assert initialized["status"] == "True"


async def test_a_failing_init_container_fails_a_never_pod_and_the_app_never_starts(
    cluster: Cluster, api: ApiClient, tmp_path
):
    spec = pod(
        "badinit",
        shell("app", "sleep 3600"),
        initContainers=[shell("setup", "exit 1")],
        restartPolicy="Never",
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, spec)
        failed = await wait_for_pod(api, "badinit", phase_is("Failed"))
        assert "waiting" in container_status(failed, "app")["state"]


async def test_an_image_the_runtime_cannot_run_waits_with_err_image_pull(
    cluster: Cluster, api: ApiClient, tmp_path
):
    container = {"name": "app", "image": "example.com/unknown:1"}
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("noimage", container))
        waiting = await wait_for_pod(api, "noimage", waiting_reason("app", "ErrImagePull"))
        message = container_status(waiting, "app")["state"]["waiting"]["message"]
        assert "images.yaml" in message
        failed = await wait_for_event(api, "noimage", "Failed")
        assert "example.com/unknown:1" in failed["message"]


async def test_a_command_that_does_not_exist_is_a_container_error_not_a_crash(
    cluster: Cluster, api: ApiClient, tmp_path
):
    container = {"name": "app", "image": "busybox", "command": ["/no/such/binary"]}
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("nocmd", container, restartPolicy="Never"))
        await api.create(PODS, pod("fine", shell("app", "sleep 3600")))
        await wait_for_pod(api, "fine", phase_is("Running"))

        failed = await wait_for_pod(api, "nocmd", phase_is("Failed"))
        terminated = container_status(failed, "app")["state"]["terminated"]
        # upstream (containerd): the start fails, the container is terminated, 128 StartError.
        assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
        assert "/no/such/binary" in terminated["message"]
