"""`pynetes up` as a user runs it: one command, a cluster whose control plane runs as
static pods in kube-system, a clean stop, state kept, and clear refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.conftest import require, require_tool
from tests.e2e.processes import command_lines
from tests.integration.conftest import Kubectl, free_port

STARTUP_TIMEOUT = 120.0
#: A kubeconfig the user had before: merging the cluster's context must keep it.
OTHER_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "other", "cluster": {"server": "https://192.0.2.1:6443"}}],
    "users": [{"name": "other", "user": {"token": "t"}}],
    "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}],
    "current-context": "other",
}
NODE = "up-node"


def require_root() -> None:
    require(os.geteuid() == 0, "root (pod network namespaces, iptables)")
    require_tool("iptables")
    require(Path("/usr/lib/cni/bridge").exists(), "the CNI plugins in /usr/lib/cni")


@dataclass
class Up:
    process: asyncio.subprocess.Process
    output: list[str]
    data_dir: Path
    kubectl: Kubectl

    async def until(self, *arguments: str, expect: str = "") -> str:
        """Run kubectl until it succeeds with output containing ``expect``."""
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while True:
                code, out, _ = await self.kubectl(*arguments, check=False)
                if code == 0 and out.strip() and expect in out:
                    return out
                await asyncio.sleep(0.3)


def up_command(data_dir: Path, port: int, *extra: str, merge: bool = False) -> list[str]:
    """``pynetes up`` on free ports; ``merge``: into the user's kubeconfig too."""
    return [
        sys.executable, "-m", "pynetes", "up",
        "--data-dir", str(data_dir),
        "--api-port", str(port),
        "--node-name", NODE,
        "--scheduler-port", str(free_port()),
        "--controller-manager-port", str(free_port()),
        "--kubelet-port", str(free_port()),
        "--kubelet-healthz-port", str(free_port()),
        *([] if merge else ["--no-merge-kubeconfig"]),
        *extra,
    ]  # fmt: skip


@asynccontextmanager
async def running_up(
    data_dir: Path, port: int, *extra: str, home: Path | None = None
) -> AsyncIterator[Up]:
    """``pynetes up`` until it says the cluster is up; SIGTERM and its farewell after.
    With ``home``, it runs with that HOME and merges its context into the kubeconfig
    there."""
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} if home else None
    if environment is not None:
        environment["HOME"] = str(home)
    process = await asyncio.create_subprocess_exec(
        *up_command(data_dir, port, *extra, merge=home is not None),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                while not any("Ctrl-C stops it" in line for line in lines):
                    line = await process.stdout.readline()
                    assert line, "pynetes up exited early:\n" + "".join(lines)
                    lines.append(line.decode())
        except TimeoutError:
            raise AssertionError("pynetes up did not come up:\n" + "".join(lines)) from None
        yield Up(process, lines, data_dir, Kubectl("/usr/bin/kubectl", data_dir / "kubeconfig"))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            lines.append((await process.stdout.read()).decode())
            await process.wait()


def _pod_netns() -> list[str]:
    folder = Path("/run/netns")
    return sorted(p.name for p in folder.glob("pyn-*")) if folder.exists() else []


def _in_pod_range(netns: str) -> bool:
    """Whether the pod network namespace has an address of this cluster's pod range
    (other tests' nodes may have pods of their own meanwhile)."""
    addresses = subprocess.run(
        ["ip", "netns", "exec", netns, "ip", "-4", "-br", "addr"], capture_output=True, text=True
    ).stdout
    return " 10.244." in addresses


def machine_state(data_dir: Path) -> tuple[list[str], int, list[str], bool]:
    """This cluster's pod network namespaces, kube-proxy's nat chains, the mounts in
    its data folder, whether the pods' bridge is there."""
    netns = [name for name in _pod_netns() if _in_pod_range(name)]
    rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    chains = sum(1 for line in rules.splitlines() if line.startswith(":KUBE-"))
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(str(data_dir))]  # fmt: skip
    return netns, chains, mounts, Path("/sys/class/net/cni0").exists()


async def test_up_runs_the_control_plane_as_static_pods_and_stops_clean(tmp_path: Path) -> None:
    require_root()
    data_dir = tmp_path / "cluster"
    port = free_port()
    async with running_up(data_dir, port) as up:
        assert f"export KUBECONFIG={data_dir / 'kubeconfig'}" in "".join(up.output)
        _, pods, _ = await up.kubectl("get", "pods", "-n", "kube-system", "--no-headers")
        names = {line.split()[0]: line.split()[2] for line in pods.splitlines()}
        for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert names.pop(f"{component}-{NODE}") == "Running"
        assert sorted(name.split("-")[0] for name in names) == ["coredns", "kube"]
        assert all(state == "Running" for state in names.values()), pods
        assert (data_dir / "manifests" / "kube-apiserver.yaml").exists()
        # the node: a control-plane node, untainted because it is the only one
        _, node, _ = await up.kubectl("get", "node", NODE, "-o", "yaml")
        node_object = yaml.safe_load(node)
        assert "node-role.kubernetes.io/control-plane" in node_object["metadata"]["labels"]
        assert not node_object["spec"].get("taints")
        # the scheduler's log, as a user reads it
        _, log, _ = await up.kubectl("logs", "-n", "kube-system", f"kube-scheduler-{NODE}")
        assert "scheduling for default-scheduler" in log
        # a pod of the user's: scheduled, run, and it resolves a Service through cluster DNS
        await up.kubectl("create", "configmap", "kept", "--from-literal=a=1")
        await up.kubectl(
            "run", "probe", "--image=busybox", "--restart=Never", "--command", "--",
            # one try: `up` said ready only once DNS answered through its Service
            "getent", "hosts", "kubernetes.default.svc.cluster.local",
        )  # fmt: skip
        await up.until("get", "pod", "probe", "-o", "jsonpath={.status.phase}", expect="Succeeded")
        _, resolved, _ = await up.kubectl("logs", "probe")
        assert resolved.split()[:2] == ["10.96.0.1", "kubernetes.default.svc.cluster.local"]
    assert up.process.returncode == 0
    assert "pynetes: stopped" in "".join(up.output)
    assert machine_state(data_dir) == ([], 0, [], False)

    async with running_up(data_dir, port) as again:
        _, out, _ = await again.kubectl("get", "configmap", "kept", "-o", "jsonpath={.data.a}")
        assert out == "1"


async def test_the_kubelet_keeps_the_control_plane_running(tmp_path: Path) -> None:
    require_root()
    data_dir = tmp_path / "cluster"
    async with running_up(data_dir, free_port()) as up:
        scheduler = f"kube-scheduler-{NODE}"
        restarts = "jsonpath={.status.containerStatuses[0].restartCount}"
        # deleting a mirror pod does not touch the static pod: the kubelet mirrors it again
        uid = "jsonpath={.metadata.uid}"
        _, first, _ = await up.kubectl("get", "pod", "-n", "kube-system", scheduler, "-o", uid)
        scheduler_pid = _pid_of("pynetes scheduler", data_dir)
        await up.kubectl("delete", "pod", "-n", "kube-system", scheduler, "--wait=false")
        async with asyncio.timeout(STARTUP_TIMEOUT):
            again = first
            while again in (first, ""):
                await asyncio.sleep(0.3)
                _, again, _ = await up.kubectl(
                    "get", "pod", "-n", "kube-system", scheduler, "-o", uid, check=False
                )
        assert _pid_of("pynetes scheduler", data_dir) == scheduler_pid  # still the same one
        _, count, _ = await up.kubectl("get", "pod", "-n", "kube-system", scheduler, "-o", restarts)
        assert count == "0"
        # kill -9 of the API server: the kubelet starts it again and the cluster carries on
        apiserver = f"kube-apiserver-{NODE}"
        pid = _pid_of("pynetes apiserver", data_dir)
        os.kill(pid, signal.SIGKILL)
        await up.until("get", "pod", "-n", "kube-system", apiserver, "-o", restarts, expect="1")
        await up.kubectl("create", "configmap", "after-kill")
        # editing a manifest restarts that component with the new flags
        manifest = data_dir / "manifests" / "kube-scheduler.yaml"
        pod = yaml.safe_load(manifest.read_text())
        pod["spec"]["containers"][0]["args"].append("--leader-elect=false")
        manifest.write_text(yaml.safe_dump(pod))
        await up.until(
            "get", "pod", "-n", "kube-system", scheduler, "-o",
            "jsonpath={.spec.containers[0].args}", expect="--leader-elect=false",
        )  # fmt: skip
        await up.until("get", "pod", "-n", "kube-system", scheduler, "-o",
                       "jsonpath={.status.containerStatuses[0].ready}", expect="true")  # fmt: skip
        assert _pid_of("pynetes scheduler", data_dir) != scheduler_pid


def _pid_of(command: str, data_dir: Path) -> int:
    for pid, argv in command_lines():
        if command in argv and str(data_dir) in argv:
            return pid
    raise AssertionError(f"no process {command!r} of {data_dir}")


async def run_up(
    *arguments: str, env: dict[str, str] | None = None, without: tuple[str, ...] = ()
) -> tuple[int, str]:
    """Run a command to its end; its exit code and output. ``env`` is added to this
    process's environment, ``without`` names variables taken out of it."""
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in without}
    process = await asyncio.create_subprocess_exec(
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=environment,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_a_port_in_use_is_named_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = await run_up(*up_command(tmp_path / "d", port, "--node-ip", "127.0.0.1"))
    assert code == 1
    assert f"port {port} (--api-port) is in use on 127.0.0.1" in out
    assert not (tmp_path / "d" / "kubelet").exists()
    assert "starting the kubelet" not in out


async def test_a_data_folder_of_another_format_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / "VERSION").write_text("99\n")
    code, out = await run_up(*up_command(data_dir, free_port(), "--node-ip", "127.0.0.1"))
    assert code == 1
    assert "pynetes data format '99'" in out and "another --data-dir" in out
    assert sorted(p.name for p in data_dir.iterdir()) == ["VERSION"]


async def test_missing_cni_plugins_are_named_with_the_package(tmp_path: Path) -> None:
    require_root()
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    code, out = await run_up(*up_command(tmp_path / "d", free_port(), "--cni-bin-dir", str(empty)))
    assert code == 1
    assert f"the CNI plugins bridge, host-local, loopback, portmap are not in {empty}" in out
    assert "apt-get install containernetworking-plugins" in out
    assert not (tmp_path / "d" / "manifests").exists()


async def test_etcd_storage_without_etcd_says_what_to_install(tmp_path: Path) -> None:
    bare_path = str(Path(sys.executable).parent)  # python, but no etcd on PATH
    code, out = await run_up(
        *up_command(tmp_path / "d", free_port(), "--node-ip", "127.0.0.1", "--storage", "etcd"),
        env={"PATH": bare_path},
    )
    assert code == 1
    assert "apt-get install etcd-server" in out
    assert not (tmp_path / "d" / "manifests").exists()


async def test_up_runs_etcd_as_a_static_pod_and_adds_its_context(tmp_path: Path) -> None:
    require_root()
    require_tool("etcd")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    user_config = home / ".kube" / "config"
    user_config.write_text(yaml.safe_dump(OTHER_KUBECONFIG))
    async with running_up(tmp_path / "cluster", free_port(), "--storage", "etcd", home=home) as up:
        await up.until("get", "pod", "-n", "kube-system", f"etcd-{NODE}",
                       "-o", "jsonpath={.status.phase}", expect="Running")  # fmt: skip
        # kubectl with no --kubeconfig: the user's kubeconfig now has the cluster
        code, out = await run_up(
            "/usr/bin/kubectl", "create", "configmap", "in-etcd",
            env={"HOME": str(home)}, without=("KUBECONFIG",),
        )  # fmt: skip
        assert code == 0, out
        merged = yaml.safe_load(user_config.read_text())
    assert merged["current-context"] == "pynetes"
    assert {c["name"] for c in merged["contexts"]} == {"pynetes", "other"}
