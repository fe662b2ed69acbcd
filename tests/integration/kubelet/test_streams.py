"""Logs and exec of pods on a real kubelet, through the API server, with kubectl and the
Python client."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import termios

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.stream import stream

from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.kubelet.agent import (
    PODS,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_pod,
)


async def test_kubectl_logs_tail_and_timestamps(cluster: Cluster, api: ApiClient, tmp_path):
    kubectl = cluster.kubectl()
    script = "echo one; echo two; echo three; sleep 3600"
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("talker", shell("app", script)))
        await wait_for_pod(api, "talker", phase_is("Running"))

        async def logged() -> str:
            for _ in range(200):
                _, out, _ = await kubectl("logs", "talker")
                if out.count("\n") == 3:
                    return out
                await asyncio.sleep(0.05)
            raise AssertionError(f"logs never complete: {out!r}")

        assert await logged() == "one\ntwo\nthree\n"
        _, tail, _ = await kubectl("logs", "talker", "--tail=1")
        assert tail == "three\n"
        _, stamped, _ = await kubectl("logs", "talker", "--timestamps", "-c", "app")
        first = stamped.splitlines()[0]
        assert first.endswith(" one") and first[:4].isdigit() and "T" in first.split()[0]


async def test_kubectl_logs_previous_shows_the_last_attempt(
    cluster: Cluster, api: ApiClient, tmp_path
):
    kubectl = cluster.kubectl()
    marker = tmp_path / "second"
    script = (
        f"if [ -e {marker} ]; then echo second; sleep 3600; fi; touch {marker}; echo first; exit 1"
    )
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("again", shell("app", script)))
        await wait_for_pod(api, "again", lambda p: "running" in container_status(p, "app")["state"])
        _, previous, _ = await kubectl("logs", "again", "--previous")
        assert previous == "first\n"


@pytest.mark.parametrize("version", [None, "1.29"], ids=["websocket", "spdy-1.29"])
async def test_kubectl_exec_exit_code_and_streams_and_stdin(
    cluster: Cluster, api: ApiClient, tmp_path, version: str | None
):
    """kubectl 1.30+ speaks WebSocket (v5); 1.29 and before upgrade to SPDY/3.1."""
    kubectl = cluster.kubectl(version)
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("shell", shell("app", "sleep 3600")))
        await wait_for_pod(api, "shell", phase_is("Running"))
        code, out, err = await kubectl(
            "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
        )
        assert (code, out, err.strip().splitlines()[0]) == (3, "out\n", "err")
        _, echoed, _ = await kubectl("exec", "-i", "shell", "--", "cat", stdin=b"hello\n")
        assert echoed == "hello\n"


async def test_python_client_exec(cluster: Cluster, api: ApiClient, tmp_path):
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("py", shell("app", "sleep 3600")))
        await wait_for_pod(api, "py", phase_is("Running"))

        def run() -> str:
            configuration = k8s.Configuration()
            k8s_config.load_kube_config(str(cluster.kubeconfig), client_configuration=configuration)
            core = k8s.CoreV1Api(k8s.ApiClient(configuration))
            return stream(
                core.connect_get_namespaced_pod_exec,
                "py",
                "default",
                command=["sh", "-c", "echo from-python"],
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
            )

        assert (await asyncio.to_thread(run)).strip() == "from-python"


@pytest.mark.parametrize("version", ["1.27", "1.33"])
async def test_kubectl_cp_both_ways(cluster: Cluster, api: ApiClient, tmp_path, version: str):
    """cp is exec of tar: stdin's end must reach tar, and its output come back whole."""
    kubectl = cluster.kubectl(version)
    inside = tmp_path / "inside"
    inside.mkdir()
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(300_000))
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("box", shell("app", "sleep 3600")))
        await wait_for_pod(api, "box", phase_is("Running"))
        await kubectl("cp", str(local), f"box:{inside}/copied.bin")
        assert (inside / "copied.bin").read_bytes() == local.read_bytes()
        back = tmp_path / "back.bin"
        await kubectl("cp", f"box:{inside}/copied.bin", str(back))
        assert back.read_bytes() == local.read_bytes()


def run_in_terminal(command: list[str], rows: int, columns: int) -> bytes:
    """What ``command`` prints on a terminal of ``rows`` x ``columns`` (a pseudo-terminal
    of this test's), until it exits."""
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, close_fds=True)
    os.close(child)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:  # the terminal's other side closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(parent)
        process.wait(timeout=60)
    return output


@pytest.mark.parametrize("version", ["1.29", "1.33"])
async def test_kubectl_exec_with_a_terminal_passes_its_size(
    cluster: Cluster, api: ApiClient, tmp_path, version: str
):
    """exec -it: the container gets a terminal of the client's size (SPDY's resize stream
    for 1.29, v5's resize channel for 1.33)."""
    kubectl = cluster.kubectl(version)
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, pod("term", shell("app", "sleep 3600")))
        await wait_for_pod(api, "term", phase_is("Running"))
        command = [kubectl.binary, "--kubeconfig", str(kubectl.kubeconfig)]
        command += ["exec", "-it", "term", "--", "sh", "-c", "stty size; tty"]
        printed = await asyncio.to_thread(run_in_terminal, command, 33, 101)
        assert b"33 101" in printed and b"/dev/pts/" in printed
