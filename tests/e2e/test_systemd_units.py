"""`pynetes systemd-units`: one unit per component, whose ExecStart lines run a cluster.

There is no systemd here, so the test does what systemd would: it reads each unit,
starts its ExecStart command line as is, and uses the cluster they make.
"""

from __future__ import annotations

import asyncio
import configparser
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pynetes.cli.main import build_parser
from pynetes.cluster.host import stop_pods
from pynetes.cluster.layout import ClusterLayout
from tests.integration.conftest import Kubectl, free_port

TIMEOUT = 60.0


def write_units(out: Path, data_dir: Path) -> dict[str, configparser.ConfigParser]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pynetes",
            "systemd-units",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
            "--node-ip",
            "127.0.0.1",
            "--node-name",
            "unit-node",
            "--api-port",
            str(free_port()),
            "--scheduler-port",
            str(free_port()),
            "--controller-manager-port",
            str(free_port()),
            "--kubelet-port",
            str(free_port()),
            "--kubelet-healthz-port",
            str(free_port()),
        ],
        check=True,
        capture_output=True,
    )
    units = {}
    for path in sorted(out.glob("*.service")):
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read_string(path.read_text())
        units[path.stem] = unit
    return units


def exec_start(unit: configparser.ConfigParser) -> list[str]:
    return shlex.split(unit["Service"]["ExecStart"].replace("\\\n", " "))


@asynccontextmanager
async def started(argv: list[str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(*argv, stdout=output, stderr=output)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()


def test_a_unit_per_component_with_flags_the_component_accepts(tmp_path: Path) -> None:
    units = write_units(tmp_path / "units", tmp_path / "data")
    assert sorted(units) == [
        "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubelet",
    ]  # fmt: skip
    for name, unit in units.items():
        argv = exec_start(unit)
        assert argv[:3] == [sys.executable, "-m", "pynetes"], name
        build_parser(argv[3:]).parse_args(argv[3:])  # exits (fails the test) on a bad flag
        assert unit["Install"]["WantedBy"] == "multi-user.target"
        assert unit["Service"]["Restart"] == "always"
    assert units["kubelet"]["Service"]["KillMode"] == "process"
    assert "kube-apiserver.service" in units["kube-scheduler"]["Unit"]["After"]
    assert (tmp_path / "units" / "coredns.yaml").exists()


async def test_the_units_command_lines_run_a_cluster(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    units = write_units(tmp_path / "units", data_dir)
    kubectl = Kubectl("/usr/bin/kubectl", data_dir / "kubeconfig")
    order = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"]
    async with started_in_order(
        [(exec_start(units[name]), tmp_path / f"{name}.log") for name in order]
    ):
        ready = 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
        await kubectl_until(kubectl, "get", "node", "unit-node", "-o", ready, expect="True")
        await kubectl(
            "run", "hello", "--image=busybox", "--restart=Never", "--command", "--",
            "echo", "hello from a unit-run cluster",
        )  # fmt: skip
        await kubectl_until(kubectl, "get", "pod", "hello", "-o", "jsonpath={.status.phase}",
                            expect="Succeeded")  # fmt: skip
        _, log, _ = await kubectl("logs", "hello")
        assert log.strip() == "hello from a unit-run cluster"
    await stop_pods(ClusterLayout(data_dir))


@asynccontextmanager
async def started_in_order(commands: list[tuple[list[str], Path]]) -> AsyncIterator[None]:
    """Start each command in order (as systemd would, after its predecessors)."""
    if not commands:
        yield
        return
    (argv, log), rest = commands[0], commands[1:]
    async with started(argv, log), started_in_order(rest):
        yield


async def kubectl_until(kubectl: Kubectl, *arguments: str, expect: str) -> str:
    async with asyncio.timeout(TIMEOUT):
        while True:
            code, out, _ = await kubectl(*arguments, check=False)
            if code == 0 and expect in out:
                return out
            await asyncio.sleep(0.3)
