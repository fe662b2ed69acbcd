"""The DNS server in process against the test's API server, and clients that ask it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import dns.asyncquery
import dns.asyncresolver
import dns.message
import pytest

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.rest import ApiClient
from pynetes.dns import names
from pynetes.dns.answer import Answerer, PodMode
from pynetes.dns.metrics import DnsMetrics
from pynetes.dns.server import DnsServer, Forwarder
from pynetes.dns.sources import StoreSync
from pynetes.dns.store import RecordStore
from tests.integration.controllers.conftest import api  # noqa: F401 (a fixture)


@dataclass
class Dns:
    """A running server: ``port`` on 127.0.0.1, UDP and TCP."""

    port: int

    def resolver(self, *, lifetime: float = 5.0) -> dns.asyncresolver.Resolver:
        """A dnspython resolver that asks this server only (never the machine's)."""
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.lifetime = lifetime
        return resolver

    async def query(
        self, name: str, rdtype: str = "A", *, tcp: bool = False
    ) -> dns.message.Message:
        """The raw response (negative ones too, with their authority section)."""
        query = dns.message.make_query(name, rdtype)
        if tcp:
            return await dns.asyncquery.tcp(query, "127.0.0.1", port=self.port, timeout=5)
        return await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=5)


async def start_dns(
    client: ApiClient, *, pods: PodMode = PodMode.INSECURE, upstream: tuple[str, int] | None = None
) -> tuple[Dns, Callable[[], Awaitable[None]]]:
    zone = names.zone("cluster.local")
    store = RecordStore()
    informers = SharedInformerFactory(client)
    StoreSync(informers, store, zone, pods)
    forwarder = Forwarder([upstream]) if upstream else None
    answerer = Answerer(store, zone, pods=pods, forwarding=forwarder is not None)
    server = DnsServer(answerer, DnsMetrics("dns://127.0.0.1:0"), forwarder)
    _, port = await server.start("127.0.0.1", 0)
    informers.start()
    await informers.wait_for_cache_sync()

    async def stop() -> None:
        await server.stop()
        await informers.shutdown()

    return Dns(port), stop


@pytest.fixture
async def cluster_dns(api: ApiClient) -> AsyncIterator[Dns]:  # noqa: F811
    running, stop = await start_dns(api)
    try:
        yield running
    finally:
        await stop()
