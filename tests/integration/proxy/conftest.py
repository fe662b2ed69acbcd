"""Fixtures of the proxy tests: the real API server, a client of it (``api``), "pods"
(real TCP and UDP servers answering with their name) and helpers to create
Services and EndpointSlices pointing at them.

The API server refuses loopback endpoint addresses (as upstream's does), so the
pods listen on addresses of :data:`POD_RANGE`, made local first with
``ip route add local 198.19.77.0/24 dev lo`` (root; removed after each test):
every packet stays on this machine. Cluster IPs are taken from 127.77.0.0/16.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from prometheus_client import CollectorRegistry

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.rest import ApiClient
from pynetes.proxy import localroute
from pynetes.proxy.metrics import ProxyMetrics
from pynetes.proxy.nodeaddresses import parse_cidrs
from pynetes.proxy.proxier import Proxier
from pynetes.proxy.tracker import ENDPOINT_SLICES, SERVICES
from pynetes.proxy.userspace import UserspaceBackend
from tests.conftest import require
from tests.integration.conftest import Cluster, api_server
from tests.integration.controllers.conftest import api
from tests.integration.controllers.harness import eventually

__all__ = ["api"]

T = TypeVar("T")
Object = dict[str, Any]
#: A hang guard only.
GUARD = 30.0
#: Where the test pods listen (made local by the ``pods`` fixture).
POD_RANGE = ipaddress.ip_network("198.19.77.0/24")
POD_PORT = 9376
SERVICE_RANGE = "127.77.0.0/16"
_cluster_ips = (f"127.77.{n // 250 % 250}.{n % 250 + 1}" for n in itertools.count(os.getpid()))


def cluster_ip() -> str:
    """A loopback address no other test of this run uses."""
    return next(_cluster_ips)


def free_port(low: int = 0) -> int:
    """A TCP port free on 127.0.0.1 (from ``low`` up, else any)."""
    for port in range(low, low + 2000) if low else (0,):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


@dataclass
class Pod:
    """A TCP and a UDP server on ``ip:port`` answering with ``name``.

    TCP: says its name on connecting, then echoes each line prefixed with it.
    """

    name: str
    ip: str
    port: int = POD_PORT
    connections: int = 0
    _servers: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, self.ip, self.port)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpEcho(self.name), local_addr=(self.ip, self.port)
        )
        self._servers += [server, transport]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(f"{self.name}\n".encode())
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                writer.write(f"{self.name} {line.decode()}".encode())
        writer.close()

    async def stop(self) -> None:
        for server in self._servers:
            server.close()


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # not a subclass in 3.11

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.name.encode(), addr)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The API server of the proxy tests: its service range is loopback (SERVICE_RANGE), so
    the userspace proxy binds cluster IPs without a route."""
    async with api_server(tmp_path, service_cluster_ip_range=SERVICE_RANGE) as running:
        yield running


@pytest.fixture
async def pods() -> AsyncIterator[Callable[[int], Awaitable[list[Pod]]]]:
    """``await pods(n)``: n pods, each on its own address of :data:`POD_RANGE`."""
    require(os.geteuid() == 0, "root (a local route for the test pods' addresses)")
    await localroute.ensure_local_route(POD_RANGE)
    started: list[Pod] = []

    async def make(count: int) -> list[Pod]:
        made = []
        for _ in range(count):
            pod = Pod(f"pod-{len(started)}", str(POD_RANGE[len(started) + 10]))
            await pod.start()
            started.append(pod)
            made.append(pod)
        return made

    try:
        yield make
    finally:
        for pod in started:
            await pod.stop()
        await localroute.remove_local_route(POD_RANGE)


@dataclass
class RunningProxy:
    proxier: Proxier
    backend: UserspaceBackend

    async def applied(self) -> None:
        """Wait until the current map has been applied (a sync after the last change)."""

        async def up_to_date() -> bool:
            return self.proxier.up_to_date

        await eventually(up_to_date)


@pytest.fixture
async def proxy(api: ApiClient) -> AsyncIterator[RunningProxy]:
    """The userspace proxy running in this process (NodePorts on 127.0.0.1)."""
    informers = SharedInformerFactory(api)
    backend = UserspaceBackend(nodeport_cidrs=parse_cidrs("127.0.0.1/32"), node_name="node-1")
    proxier = Proxier(informers, backend, ProxyMetrics(CollectorRegistry()))
    informers.start()
    task = asyncio.create_task(proxier.run())
    try:
        async with asyncio.timeout(GUARD):
            await proxier.synced.wait()
        yield RunningProxy(proxier, backend)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await backend.cleanup()
        await informers.shutdown()


async def create_service(api: ApiClient, name: str, ip: str, port: int, **spec: Any) -> Object:
    ports = spec.pop("ports", None) or [{"name": "p", "port": port, "protocol": "TCP"}]
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": ports, **spec},
    }
    return await api.create(SERVICES, body)


def slice_body(service: str, pods: list[Pod], *, name: str | None = None, **ready: bool) -> Object:
    """A slice of ``pods`` (``ready`` maps a pod name to its readiness) for ports "p"/"u"."""
    return {
        "metadata": {
            "name": name or f"{service}-abc",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [pod.ip],
                "conditions": {"ready": ready.get(pod.name, True)},
                "nodeName": "node-1",
                "targetRef": {"kind": "Pod", "name": pod.name, "namespace": "default"},
            }
            for pod in pods
        ],
        "ports": [],
    }


def _ports(port: int) -> list[Object]:
    return [
        {"name": "p", "port": port, "protocol": "TCP"},
        {"name": "u", "port": port, "protocol": "UDP"},
    ]


async def create_slice(api: ApiClient, service: str, pods: list[Pod], **ready: bool) -> Object:
    """One slice ``<service>-abc`` with every pod (its endpoints arrive at once)."""
    body = slice_body(service, pods, **ready)
    body["ports"] = _ports(POD_PORT)
    return await api.create(ENDPOINT_SLICES, body)


async def create_slices(api: ApiClient, service: str, pods: list[Pod], **ready: bool) -> None:
    """One slice per pod (the tracker merges them)."""
    for pod in pods:
        body = slice_body(service, [pod], name=f"{service}-{pod.name}", **ready)
        body["ports"] = _ports(pod.port)
        await api.create(ENDPOINT_SLICES, body)


async def ask(ip: str, port: int) -> str:
    """Connect and read the name the pod behind ``ip:port`` says."""
    async with asyncio.timeout(GUARD):
        reader, writer = await asyncio.open_connection(ip, port)
        try:
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()
