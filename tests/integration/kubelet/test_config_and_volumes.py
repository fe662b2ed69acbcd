"""Environment, volumes and resource limits of pods run by a real kubelet."""

from __future__ import annotations

import os
from pathlib import Path

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from tests.conftest import require
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually
from tests.integration.kubelet.agent import (
    PODS,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_event,
    wait_for_pod,
)

CONFIG_MAPS = built_in("", "v1", "configmaps")
SECRETS = built_in("", "v1", "secrets")


def config_map(name: str, **data: str):
    return {"metadata": {"name": name, "namespace": "default"}, "data": data}


async def test_env_from_config_maps_secrets_and_the_downward_api(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    out = tmp_path / "env"
    await api.create(CONFIG_MAPS, config_map("settings", mode="fast"))
    await api.create(
        SECRETS,
        {"metadata": {"name": "creds", "namespace": "default"}, "stringData": {"token": "s3cret"}},
    )
    app = shell(
        "app",
        f"echo $MODE $TOKEN $POD_NAME $GREETING > {out}; sleep 3600",
        env=[
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "GREETING", "value": "hello-$(POD_NAME)"},
        ],
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("envy", app))
        await wait_for_pod(api, "envy", phase_is("Running"))
        assert out.read_text().split() == ["fast", "s3cret", "envy", "hello-envy"]


async def test_a_missing_config_map_is_a_create_container_config_error(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    app = shell(
        "app",
        "sleep 3600",
        env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}],
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("noconfig", app))

        def config_error(found):
            statuses = (found.get("status") or {}).get("containerStatuses") or ()
            waiting = (statuses and statuses[0]["state"].get("waiting")) or {}
            return waiting.get("reason") == "CreateContainerConfigError"

        waiting = await wait_for_pod(api, "noconfig", config_error)
        message = container_status(waiting, "app")["state"]["waiting"]["message"]
        assert message == 'configmap "absent" not found'
        await api.create(CONFIG_MAPS, config_map("absent", k="v"))
        await wait_for_pod(api, "noconfig", phase_is("Running"))


async def test_volumes_are_seen_at_their_mount_path_and_config_map_updates_arrive(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    require(os.geteuid() == 0, "root (for mount namespaces)")
    out = tmp_path / "seen"
    await api.create(CONFIG_MAPS, config_map("web-config", greeting="hello"))
    app = shell(
        "app",
        f"while true; do cat /etc/web/greeting > {out}.tmp; mv {out}.tmp {out}; sleep 0.1; done",
        volumeMounts=[{"name": "config", "mountPath": "/etc/web"}],
    )
    spec = pod("mounted", app, volumes=[{"name": "config", "configMap": {"name": "web-config"}}])
    async with running_kubelet(cluster, api, tmp_path, sync_frequency=1.0):
        await api.create(PODS, spec)
        await wait_for_pod(api, "mounted", phase_is("Running"))
        await _file_says(out, "hello")
        assert not _says(Path("/etc/web/greeting"), "hello")  # the host does not see the mount
        await api.patch(
            CONFIG_MAPS, "web-config", {"data": {"greeting": "bonjour"}}, namespace="default"
        )
        await _file_says(out, "bonjour")


async def test_a_missing_volume_source_gives_failed_mount_and_the_pod_waits(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    app = shell("app", "sleep 3600", volumeMounts=[{"name": "config", "mountPath": "/etc/x"}])
    spec = pod("nomount", app, volumes=[{"name": "config", "configMap": {"name": "ghost"}}])
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, spec)
        event = await wait_for_event(api, "nomount", "FailedMount")
        assert 'configmap "ghost" not found' in event["message"]
        found = await api.get(PODS, "nomount", namespace="default")
        assert found["status"]["phase"] == "Pending"


async def test_a_memory_limit_is_enforced_as_oom_killed(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    require(os.access("/sys/fs/cgroup/memory", os.W_OK), "writable memory cgroups")
    hog = {
        "name": "hog",
        "image": "python:3",
        "command": [
            "python3",
            "-c",
            "x = bytearray(300 * 1024 * 1024); import time; time.sleep(60)",
        ],
        "resources": {"limits": {"memory": "50Mi", "cpu": "500m"}},
    }
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("hog", hog, restartPolicy="Never"))
        failed = await wait_for_pod(api, "hog", phase_is("Failed"))
        terminated = container_status(failed, "hog")["state"]["terminated"]
        assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
        assert failed["status"]["qosClass"] == "Guaranteed"


def _says(path: Path, text: str) -> bool:
    return path.exists() and path.read_text().strip() == text


async def _file_says(path: Path, text: str) -> None:
    async def says() -> bool:
        return _says(path, text)

    await eventually(says)


async def test_pods_resolve_through_the_cluster_dns_and_host_network_pods_through_the_hosts(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    require(os.geteuid() == 0, "root (for mount namespaces)")
    seen, host_seen = tmp_path / "resolv", tmp_path / "host-resolv"
    app = shell("app", f"cat /etc/resolv.conf > {seen}; sleep 3600")
    host_app = shell("app", f"cat /etc/resolv.conf > {host_seen}; sleep 3600")
    settings = {"cluster_dns": ("10.96.0.10",), "cluster_domain": "cluster.local"}
    async with running_kubelet(cluster, api, tmp_path, **settings):
        await api.create(PODS, pod("resolver", app))
        await api.create(PODS, pod("hostnet", host_app, hostNetwork=True))
        await wait_for_pod(api, "resolver", phase_is("Running"))
        await wait_for_pod(api, "hostnet", phase_is("Running"))
        async def both_written() -> bool:
            return _written(seen) and _written(host_seen)

        await eventually(both_written)
    lines = _read(seen).splitlines()
    assert "nameserver 10.96.0.10" in lines
    assert any(
        line.startswith("search default.svc.cluster.local svc.cluster.local cluster.local")
        for line in lines
    )
    assert "options ndots:5" in lines
    assert _read(host_seen) == _read(Path("/etc/resolv.conf"))


def _written(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _read(path: Path) -> str:
    return path.read_text()
