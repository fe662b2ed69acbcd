"""Components run as ``python -m pynetes COMPONENT`` processes against a test's API server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from pynetes.client import errors
from pynetes.client.leaderelection import LEASES
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster, free_port

REPOSITORY = Path(__file__).resolve().parents[2]
#: A hang guard only: how long a process may take to start, answer or exit.
GUARD = 60.0


def pynetes(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "pynetes", *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPOSITORY)}


@dataclass
class ComponentProcess:
    """One component process serving /healthz and /metrics on ``port``; its log goes to a file."""

    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    async def get(self, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{self.address}{path}") as response,
        ):
            return response.status, await response.text()

    async def ready(self) -> None:
        """Wait until /healthz answers (the HTTP server starts before any campaign)."""
        async with asyncio.timeout(GUARD):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    if await self.get("/healthz") == (200, "ok"):
                        return
                await asyncio.sleep(0.1)

    async def metric(self, metric_name: str, /, **labels: str) -> float | None:
        """The sample ``metric_name{labels}`` from /metrics, None if absent."""
        _, text = await self.get("/metrics")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == metric_name and sample.labels == labels:
                    return sample.value
        return None

    def identity(self) -> str:
        """The leader-election identity this process logged at start-up."""
        marker = "leader election identity "
        line = next(line for line in self.log().splitlines() if marker in line)
        return line.split(marker, 1)[1].strip()


@contextlib.asynccontextmanager
async def component(
    cluster: Cluster,
    tmp_path: Path,
    command: str,
    name: str,
    *flags: str,
    verbose: bool = False,
) -> AsyncIterator[ComponentProcess]:
    """``pynetes COMMAND --kubeconfig ... --port P FLAGS`` until the block ends (then SIGTERM)."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    verbosity = ["-v", "1"] if verbose else []
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *pynetes(*verbosity, command, "--kubeconfig", str(cluster.kubeconfig)),
            "--port",
            str(port),
            *flags,
            stdout=log_file,
            stderr=log_file,
            env=environment(),
        )
    running = ComponentProcess(process, port, log_path)
    try:
        await running.ready()
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GUARD):
                await process.wait()


async def run_cli(*arguments: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *pynetes(*arguments),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment(),
    )
    async with asyncio.timeout(GUARD):
        out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def lease_holder(api: ApiClient, name: str) -> str:
    """Who holds the Lease kube-system/``name`` ("" if nobody or no Lease)."""
    try:
        lease: dict[str, Any] = await api.get(LEASES, name, namespace="kube-system")
    except errors.NotFound:
        return ""
    return lease["spec"].get("holderIdentity") or ""
