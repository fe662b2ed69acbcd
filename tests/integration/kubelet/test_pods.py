"""Pods run by a real kubelet (process runtime) through the real API server."""

from __future__ import annotations

from pynetes.client.rest import ApiClient
from pynetes.kubelet.volumes.tmpfs import (
    can_mount,
    mount_points_under,
    mount_tmpfs,
    unmount_all_under,
)
from tests.conftest import require
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually
from tests.integration.kubelet.agent import (
    PODS,
    container_status,
    events_of,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_event,
    wait_for_pod,
)
from tests.integration.test_scheduler import running as running_scheduler


async def test_a_pod_runs_and_reports_running_and_ready(cluster: Cluster, api: ApiClient, tmp_path):
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("web", shell("app", "sleep 3600")))
        running = await wait_for_pod(api, "web", phase_is("Running"))
        app = container_status(running, "app")
        assert app["ready"] is True and "running" in app["state"]
        assert app["containerID"].startswith("pynetes-process://")
        assert running["status"]["podIP"] == "127.0.0.1"
        ready = next(c for c in running["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"


async def test_a_completed_pod_succeeds(cluster: Cluster, api: ApiClient, tmp_path):
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("once", shell("app", "exit 0"), restartPolicy="Never"))
        done = await wait_for_pod(api, "once", phase_is("Succeeded"))
        terminated = container_status(done, "app")["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")


async def test_the_kubelet_reports_upstreams_metrics(cluster: Cluster, api: ApiClient, tmp_path):
    async with running_kubelet(cluster, api, tmp_path) as agent:
        await api.create(PODS, pod("measured", shell("app", "sleep 3600")))
        await wait_for_pod(api, "measured", phase_is("Running"))
        metrics = agent.metrics

        async def reported() -> bool:
            running = metrics.get_sample_value(
                "kubelet_running_containers", {"container_state": "running"}
            )
            return metrics.get_sample_value("kubelet_running_pods") == 1 and running == 1

        await eventually(reported)
        assert metrics.get_sample_value("kubelet_pod_start_duration_seconds_count") == 1
        started = {"container_type": "container"}
        assert metrics.get_sample_value("kubelet_started_containers_total", started) == 1
        syncs = metrics.get_sample_value(
            "kubelet_pod_worker_duration_seconds_count", {"operation": "sync"}
        )
        assert syncs is not None and syncs >= 1


async def test_kubectl_run_is_scheduled_then_run_by_the_kubelet_with_upstreams_events(
    cluster: Cluster, api: ApiClient, tmp_path
):
    kubectl = cluster.kubectl()
    async with running_kubelet(cluster, api, tmp_path), running_scheduler(api):
        await kubectl("run", "web", "--image=busybox", "--command", "--", "sleep", "3600")
        running = await wait_for_pod(api, "web", phase_is("Running"))
        assert running["spec"]["nodeName"] == "node-1"
        _, wide, _ = await kubectl("get", "pod", "web", "-o", "wide")
        assert "Running" in wide and "node-1" in wide and "127.0.0.1" in wide
        await wait_for_event(api, "web", "Started")
        reasons = sorted(e["reason"] for e in await events_of(api, "web"))
        assert reasons == ["Created", "Pulled", "Scheduled", "Started"]


async def test_the_folder_of_a_pod_no_source_has_is_removed_with_its_mounts(
    cluster: Cluster, api: ApiClient, tmp_path
):
    """As after a kubelet crash between removing a pod's sandbox and its volumes: a pod
    folder neither the API nor the runtime knows, with a tmpfs (a secret's) mounted in
    it, is torn down once the kubelet knows its pods; the running pod's stays."""
    require(can_mount(), "mounting a tmpfs (root)")
    orphan = tmp_path / "pods" / "gone-uid"
    secret = orphan / "volumes" / "kubernetes.io~secret" / "token"
    secret.mkdir(parents=True)
    await mount_tmpfs(secret, 1024 * 1024)
    (secret / "token").write_text("a secret")
    try:
        async with running_kubelet(cluster, api, tmp_path):
            await api.create(PODS, pod("web", shell("app", "sleep 3600")))
            running = await wait_for_pod(api, "web", phase_is("Running"))

            async def removed() -> bool:
                return not orphan.exists()

            await eventually(removed)
            assert mount_points_under(orphan) == []
            assert (tmp_path / "pods" / running["metadata"]["uid"]).is_dir()
    finally:
        await unmount_all_under(orphan)
