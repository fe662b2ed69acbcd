"""`pynetes up` as a user runs it: one command, a working cluster, a clean stop, state kept."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.integration.conftest import Kubectl, free_port

STARTUP_TIMEOUT = 60.0


async def start_up(data_dir: Path, port: int) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start `pynetes up` and read its output until it says the cluster is up."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pynetes",
        "up",
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(port),
        "--scheduler-port",
        str(free_port()),
        "--controller-manager-port",
        str(free_port()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while not any("Ctrl-C stops it" in line for line in lines):
            line = await process.stdout.readline()
            assert line, "pynetes up exited early:\n" + "".join(lines)
            lines.append(line.decode())
    return process, lines


async def until(kubectl: Kubectl, *arguments: str) -> str:
    """Run kubectl until it succeeds with some output (the cluster is what changes)."""
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while True:
            code, out, _ = await kubectl(*arguments, check=False)
            if code == 0 and out.strip():
                return out
            await asyncio.sleep(0.2)


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    assert process.stdout is not None
    async with asyncio.timeout(30):
        rest = await process.stdout.read()
        await process.wait()
    return rest.decode()


async def test_up_starts_a_cluster_stops_cleanly_and_keeps_its_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    port = free_port()
    process, lines = await start_up(data_dir, port)
    kubectl = Kubectl("/usr/bin/kubectl", data_dir / "kubeconfig")
    try:
        assert f"export KUBECONFIG={data_dir / 'kubeconfig'}" in "".join(lines)
        _, out, _ = await kubectl("get", "namespaces", "-o", "name")
        assert out.split() == [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system",
        ]
        await kubectl("create", "configmap", "kept", "--from-literal=a=1")
        # the controller manager runs: every namespace gets its default ServiceAccount
        await until(kubectl, "get", "serviceaccount", "default", "-n", "kube-public")
        # the scheduler runs: with no node yet, it says why the pod waits
        await kubectl("run", "waiting", "--image=busybox", "--restart=Never")
        await until(
            kubectl, "get", "events", "--field-selector=reason=FailedScheduling", "-o", "name"
        )
    finally:
        farewell = await stop(process)
    assert process.returncode == 0
    assert "pynetes: stopped" in farewell
    apiserver_log = (data_dir / "logs" / "apiserver.log").read_text()
    assert "serving the Kubernetes API" in apiserver_log
    for component in ("scheduler", "controller-manager"):
        assert (data_dir / "logs" / f"{component}.log").exists()

    process, _ = await start_up(data_dir, port)
    try:
        _, out, _ = await kubectl("get", "configmap", "kept", "-o", "jsonpath={.data.a}")
        assert out == "1"
    finally:
        await stop(process)
