"""A real API server, started in process for each test, and the real clients that talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pynetes.apiserver.app import RunningServer, ServerOptions, start
from pynetes.client.config import ClientConfig
from pynetes.client.rest import ApiClient
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from tests.conftest import require_tool

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
#: The token of ``system:bootstrap:abcdef``, the user of :func:`api_server_with_bootstrapper`.
BOOTSTRAPPER_TOKEN = "abcdef.0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Kubectl:
    """Runs a real kubectl binary against the test server, without blocking its event loop."""

    binary: str
    kubeconfig: Path

    async def __call__(
        self,
        *arguments: str,
        stdin: bytes | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            self.binary,
            "--kubeconfig",
            str(self.kubeconfig),
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(self.kubeconfig.parent), **(env or {})},
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate(stdin)
        code = process.returncode or 0
        if check and code != 0:
            raise AssertionError(
                f"kubectl {' '.join(arguments)} exited {code}\n"
                f"stdout: {out.decode()}\nstderr: {err.decode()}"
            )
        return code, out.decode(), err.decode()


@dataclass
class Cluster:
    server: RunningServer
    kubeconfig: Path

    def kubectl(self, version: str | None = None) -> Kubectl:
        """kubectl through the dispatcher (None), or a pinned minor such as "1.31"."""
        if version is None:
            return Kubectl(require_tool("kubectl"), self.kubeconfig)
        binary = KUBECTL_DIR / f"kubectl.{version}"
        if not binary.exists():
            require_tool(f"kubectl.{version}")
        return Kubectl(str(binary), self.kubeconfig)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with api_server(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def api_server(tmp_path: Path, **options: Any) -> AsyncIterator[Cluster]:
    """A real API server on ``tmp_path`` with an admin kubeconfig; ``options`` set
    ServerOptions fields (e.g. ``service_cluster_ip_range``)."""
    port = free_port()
    server = await start(ServerOptions(data_dir=tmp_path / "data", secure_port=port, **options))
    pki = Pki(server.pki_dir)
    admin = issue_client_certificate(pki.load_ca(), "kubernetes-admin", ["system:masters"])
    path = tmp_path / "kubeconfig"
    write_kubeconfig(
        path,
        kubeconfig(
            server=server.url,
            ca_pem=pki.ca_cert.read_bytes(),
            user="kubernetes-admin",
            client=admin,
        ),
    )
    try:
        yield Cluster(server, path)
    finally:
        await server.stop()


@dataclass
class Restartable:
    """An API server that can be stopped and started again on its data and port."""

    data_dir: Path
    port: int
    server: RunningServer

    async def restart(self) -> None:
        await self.server.stop()
        self.server = await start(ServerOptions(data_dir=self.data_dir, secure_port=self.port))

    def client_config(self) -> ClientConfig:
        pki = Pki(self.server.pki_dir)
        admin = issue_client_certificate(pki.load_ca(), "kubernetes-admin", ["system:masters"])
        return ClientConfig(
            self.server.url,
            ca_pem=pki.ca_cert.read_bytes(),
            client_cert_pem=admin.certificate_pem(),
            client_key_pem=admin.key_pem(),
            qps=0,
        )


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[Restartable]:
    port = free_port()
    server = await start(ServerOptions(data_dir=tmp_path / "data", secure_port=port))
    holder = Restartable(tmp_path / "data", port, server)
    try:
        yield holder
    finally:
        await holder.server.stop()


@contextlib.asynccontextmanager
async def api_server_with_bootstrapper(
    tmp_path: Path, groups: tuple[str, ...] = ("system:bootstrappers",)
) -> AsyncIterator[Cluster]:
    """An API server whose token file also knows a bootstrap-token-like user,
    ``system:bootstrap:abcdef`` in ``groups``, authenticating with BOOTSTRAPPER_TOKEN."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f'{BOOTSTRAPPER_TOKEN},system:bootstrap:abcdef,10,"{",".join(groups)}"\n')
    async with api_server(tmp_path, token_auth_file=tokens) as running:
        yield running


def bootstrapper_client(api: ApiClient) -> ApiClient:
    """A client of ``api``'s server authenticating as the bootstrapper."""
    return ApiClient(
        ClientConfig(api.config.server, ca_pem=api.config.ca_pem, token=BOOTSTRAPPER_TOKEN, qps=0)
    )
