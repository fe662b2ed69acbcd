"""Probes, lifecycle hooks and graceful termination, through the real API server and kubelet."""

from __future__ import annotations

from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.kubelet.agent import (
    PODS,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_deletion,
    wait_for_event,
    wait_for_pod,
)


def exec_probe(command: str, **timing):
    return {"exec": {"command": ["sh", "-c", command]}, "periodSeconds": 1, **timing}


async def test_a_failing_liveness_probe_restarts_the_container_with_events(
    cluster: Cluster, api: ApiClient, tmp_path
):
    app = shell(
        "app",
        "sleep 3600",
        livenessProbe=exec_probe("exit 1", failureThreshold=1),
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("sick", app))
        unhealthy = await wait_for_event(api, "sick", "Unhealthy")
        assert unhealthy["message"].startswith("Liveness probe failed")
        killing = await wait_for_event(api, "sick", "Killing")
        assert killing["message"] == "Container app failed liveness probe, will be restarted"
        restarted = await wait_for_pod(
            api, "sick", lambda p: container_status(p, "app")["restartCount"] >= 1
        )
        assert container_status(restarted, "app")["lastState"]["terminated"]["exitCode"] == 143


async def test_readiness_follows_the_probe(cluster: Cluster, api: ApiClient, tmp_path):
    flag = tmp_path / "ready"
    app = shell("app", "sleep 3600", readinessProbe=exec_probe(f"test -e {flag}"))
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("gated", app))
        running = await wait_for_pod(api, "gated", phase_is("Running"))
        assert container_status(running, "app")["ready"] is False
        flag.touch()
        await wait_for_pod(api, "gated", lambda p: container_status(p, "app")["ready"])
        flag.unlink()
        await wait_for_pod(api, "gated", lambda p: not container_status(p, "app")["ready"])


async def test_a_startup_probe_holds_started_until_it_passes(
    cluster: Cluster, api: ApiClient, tmp_path
):
    flag = tmp_path / "booted"
    app = shell(
        "app", "sleep 3600", startupProbe=exec_probe(f"test -e {flag}", failureThreshold=600)
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("slow", app))
        running = await wait_for_pod(api, "slow", phase_is("Running"))
        assert container_status(running, "app")["started"] is False
        flag.touch()
        started = await wait_for_pod(api, "slow", lambda p: container_status(p, "app")["started"])
        assert container_status(started, "app")["ready"] is True


async def test_post_start_and_pre_stop_hooks_run_and_deletion_is_graceful(
    cluster: Cluster, api: ApiClient, tmp_path
):
    log = tmp_path / "hooks"
    script = f"trap 'echo term >> {log}; exit 0' TERM; while true; do sleep 0.1; done"
    app = shell(
        "app",
        script,
        lifecycle={
            "postStart": {"exec": {"command": ["sh", "-c", f"echo post-start >> {log}"]}},
            "preStop": {"exec": {"command": ["sh", "-c", f"echo pre-stop >> {log}"]}},
        },
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("hooked", app, terminationGracePeriodSeconds=30))
        await wait_for_pod(api, "hooked", phase_is("Running"))
        assert log.read_text().split() == ["post-start"]
        await api.delete(PODS, "hooked", namespace="default")

        await wait_for_deletion(api, "hooked", "default")
        assert log.read_text().split() == ["post-start", "pre-stop", "term"]


async def test_a_container_ignoring_sigterm_is_killed_when_the_grace_period_ends(
    cluster: Cluster, api: ApiClient, tmp_path
):
    app = shell("app", "trap '' TERM; while true; do sleep 0.1; done")
    async with running_kubelet(cluster, api, tmp_path) as agent:
        created = await api.create(PODS, pod("stubborn", app, terminationGracePeriodSeconds=1))
        await wait_for_pod(api, "stubborn", phase_is("Running"))
        await api.delete(PODS, "stubborn", namespace="default")

        await wait_for_deletion(api, "stubborn", "default")
        uid = created["metadata"]["uid"]
        statuses = await agent.runtime.list_containers()
        assert not [s for s in statuses if s.labels.get("io.kubernetes.pod.uid") == uid]
        killing = await wait_for_event(api, "stubborn", "Killing")
        assert killing["message"] == "Stopping container app"


async def test_a_failed_post_start_hook_kills_the_container(
    cluster: Cluster, api: ApiClient, tmp_path
):
    app = shell(
        "app",
        "sleep 3600",
        lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 2"]}}},
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("badhook", app, restartPolicy="Never"))
        event = await wait_for_event(api, "badhook", "FailedPostStartHook")
        assert "exit" in event["message"] or "failed" in event["message"]
        await wait_for_pod(api, "badhook", phase_is("Failed"))


async def test_a_readiness_gate_set_by_another_component_makes_the_pod_ready(
    cluster: Cluster, api: ApiClient, tmp_path
):
    gate = "example.com/load-balancer-ready"
    spec = pod("gated-lb", shell("app", "sleep 3600"), readinessGates=[{"conditionType": gate}])
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, spec)
        running = await wait_for_pod(api, "gated-lb", phase_is("Running"))
        ready = next(c for c in running["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "ReadinessGatesNotReady")
        condition = {"type": gate, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        conditions = [*running["status"]["conditions"], condition]
        await api.patch(
            PODS,
            "gated-lb",
            {"status": {"conditions": conditions}},
            namespace="default",
            subresource="status",
        )

        def is_ready(found):
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in found["status"]["conditions"]
            )

        await wait_for_pod(api, "gated-lb", is_ready)
