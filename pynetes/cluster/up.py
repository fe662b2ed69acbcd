"""``pynetes up``: start every component that exists on this machine, in the foreground.

Each component runs as its own process (``pynetes <component>``), as in
Kubernetes. ``up`` prepares the PKI, starts the API server, waits until it
answers, writes ``DATA_DIR/kubeconfig`` for the admin user and, as kubeadm
does, ``scheduler.conf`` and ``controller-manager.conf`` for the scheduler
and the controller manager (client certificates for
``system:kube-scheduler`` and ``system:kube-controller-manager``), starts
them, prints how to use the cluster, and stops every process it started on
Ctrl-C or SIGTERM. Run again on the same data directory, it brings the same
cluster back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from pynetes.pki.certificates import Pki, ensure_pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ("system:masters",)
READY_TIMEOUT = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".pynetes")
    parser.add_argument("--api-port", type=int, default=6443)
    parser.add_argument("--storage", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument("--etcd-servers", default="")
    parser.add_argument(
        "--scheduler-port", type=int, default=10251, help="the scheduler's /healthz and /metrics"
    )
    parser.add_argument(
        "--controller-manager-port",
        type=int,
        default=10252,
        help="the controller manager's /healthz and /metrics",
    )


@dataclass
class Component:
    """One child process and the log file it writes."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path


def run(arguments: argparse.Namespace) -> int:
    return asyncio.run(_up(arguments))


async def _up(arguments: argparse.Namespace) -> int:
    data_dir: Path = arguments.data_dir.expanduser().resolve()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    pki = await asyncio.to_thread(ensure_pki, data_dir / "pki", ips=["127.0.0.1"])
    server = f"https://127.0.0.1:{arguments.api_port}"
    apiserver_arguments = [
        "--data-dir",
        str(data_dir),
        "--secure-port",
        str(arguments.api_port),
        "--storage",
        arguments.storage,
    ]
    if arguments.etcd_servers:
        apiserver_arguments += ["--etcd-servers", arguments.etcd_servers]
    _say(f"starting kube-apiserver on {server} (data in {data_dir})")
    components = [await _start(data_dir, "apiserver", apiserver_arguments)]
    try:
        if not await _wait_ready(server, pki.ca_cert, components, stop):
            return 1
        config_path = data_dir / "kubeconfig"
        await asyncio.to_thread(
            _write_kubeconfig, pki.directory, server, config_path, ADMIN_USER, ADMIN_GROUPS
        )
        for name, user, port in (
            ("scheduler", "system:kube-scheduler", arguments.scheduler_port),
            (
                "controller-manager",
                "system:kube-controller-manager",
                arguments.controller_manager_port,
            ),
        ):
            path = data_dir / f"{name}.conf"
            await asyncio.to_thread(_write_kubeconfig, pki.directory, server, path, user, ())
            _say(f"starting kube-{name}")
            flags = ["--kubeconfig", str(path), "--port", str(port)]
            components.append(await _start(data_dir, name, flags))
        _say(
            "the cluster is up.\n"
            f"  export KUBECONFIG={config_path}\n"
            "  kubectl get namespaces\n"
            "Ctrl-C stops it; `pynetes up` on the same data directory brings it back."
        )
        exited = asyncio.ensure_future(_first_exit(components))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (exited, stopped):
            waiter.cancel()
        for component in components:
            if component.process.returncode is not None:
                code = component.process.returncode
                _say(f"{component.name} exited ({code}); see {component.log_path}")
                return 1
        return 0
    finally:
        await _stop_all(components)
        _say("stopped")


async def _start(data_dir: Path, name: str, arguments: Sequence[str]) -> Component:
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pynetes",
            name,
            *arguments,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    return Component(name, process, log_path)


async def _wait_ready(
    server: str, ca_file: Path, components: list[Component], stop: asyncio.Event
) -> bool:
    """Poll /readyz until it answers ok; False if a component dies or the user stops."""
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline and not stop.is_set():
            for component in components:
                if component.process.returncode is not None:
                    _say(f"{component.name} exited during start-up; its log, {component.log_path}:")
                    _say(_tail(component.log_path))
                    return False
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{server}/readyz", ssl=context) as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.2)
    if not stop.is_set():
        _say(f"the API server did not become ready within {READY_TIMEOUT:.0f} s")
    return False


def _write_kubeconfig(
    pki_dir: Path, server: str, path: Path, user: str, groups: Sequence[str]
) -> None:
    """A kubeconfig at ``path`` for ``user`` (in ``groups``) with a fresh client certificate."""
    pki = Pki(pki_dir)
    client = issue_client_certificate(pki.load_ca(), user, list(groups))
    config = kubeconfig(
        server=server,
        ca_pem=pki.ca_cert.read_bytes(),
        user=user,
        client=client,
        cluster="pynetes",
        context="pynetes",
    )
    write_kubeconfig(path, config)


async def _first_exit(components: list[Component]) -> None:
    await asyncio.wait(
        [asyncio.ensure_future(c.process.wait()) for c in components],
        return_when=asyncio.FIRST_COMPLETED,
    )


async def _stop_all(components: list[Component]) -> None:
    for component in components:
        if component.process.returncode is None:
            component.process.terminate()
    for component in components:
        try:
            async with asyncio.timeout(15):
                await component.process.wait()
        except TimeoutError:
            component.process.kill()
            await component.process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _say(message: str) -> None:
    print(f"pynetes: {message}", flush=True)
