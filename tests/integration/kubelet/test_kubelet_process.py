"""``pynetes kubelet`` as a process: its flags and config file, /healthz, and kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import tear_down_pods
from tests.integration.components import GUARD, environment, pynetes, run_cli
from tests.integration.conftest import Cluster, free_port
from tests.integration.kubelet.agent import (
    NODE,
    PODS,
    container_status,
    phase_is,
    pod,
    shell,
    token_volume_controllers,
    wait_for_deletion,
    wait_for_pod,
)


def write_config(tmp_path: Path, **fields: object) -> tuple[Path, int]:
    healthz = free_port()
    document = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "port": free_port(),
        "healthzPort": healthz,
        "podLogsDir": str(tmp_path / "logs"),
        **fields,
    }
    path = tmp_path / "kubelet.yaml"
    path.write_text(yaml.safe_dump(document))
    return path, healthz


@contextlib.asynccontextmanager
async def kubelet_process(
    cluster: Cluster, root: Path, config: Path, healthz: int, *arguments: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``pynetes kubelet`` until the block ends, with the controllers pods' token volume needs."""
    log = root.parent / "kubelet.log"
    config_of_client = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with (
        ApiClient(config_of_client) as client,
        token_volume_controllers(client),
        _kubelet(cluster, root, config, healthz, log, arguments) as process,
    ):
        yield process


@contextlib.asynccontextmanager
async def _kubelet(
    cluster: Cluster, root: Path, config: Path, healthz: int, log: Path, arguments: tuple[str, ...]
) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *pynetes("kubelet", "--kubeconfig", str(cluster.kubeconfig), "--node-name", NODE),
            "--root-dir",
            str(root),
            "--config",
            str(config),
            *arguments,
            stdout=output,
            stderr=output,
            env=environment(),
        )
    try:
        await _healthy(healthz, process, log)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GUARD):
                await process.wait()


async def _healthy(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    async with asyncio.timeout(GUARD), aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                raise AssertionError(f"kubelet exited: {_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def test_an_invalid_config_file_stops_start_up_naming_the_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "syncFrequency: soon\n"
    )
    code, _, err = await run_cli(
        "kubelet", "--kubeconfig", str(tmp_path / "none"), "--config", str(path)
    )
    assert code == 1
    assert "syncFrequency" in err


@pytest.mark.slow
async def test_kill_9_of_the_kubelet_neither_stops_nor_duplicates_containers(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    root = tmp_path / "kubelet"
    config, healthz = write_config(tmp_path)
    starts = tmp_path / "starts"
    try:
        async with kubelet_process(cluster, root, config, healthz) as first:
            # on the host network: this kubelet has no podCIDR, so no pod network
            steady = pod("steady", shell("app", f"echo x >> {starts}; sleep 3600"))
            steady["spec"]["hostNetwork"] = True
            await api.create(PODS, steady)
            before = await wait_for_pod(api, "steady", phase_is("Running"))
            first.kill()
            await first.wait()
        async with kubelet_process(cluster, root, config, healthz):
            # The restarted kubelet reports the same container, and started nothing new.
            after = await wait_for_pod(
                api,
                "steady",
                lambda p: (
                    container_status(p, "app").get("containerID")
                    == container_status(before, "app")["containerID"]
                ),
            )
            assert container_status(after, "app")["restartCount"] == 0
            assert starts.read_text().split() == ["x"]
            # ... and still does its job: a deletion completes.
            await api.delete(PODS, "steady", namespace="default")

            await wait_for_deletion(api, "steady", "default")
    finally:
        await tear_down_pods(root)
