"""``pynetes dns``: the cluster DNS server (CoreDNS with kubeadm's Corefile, in Python).

Answers the cluster zone (``--cluster-domain``) and the reverse zones from
Services, EndpointSlices and (``--pods verified``) Pods over UDP and TCP on
``--listen``; forwards other names to ``--upstream`` servers, or refuses
them when none is given. Serves ``/health`` ("OK", CoreDNS's health plugin)
and ``/ready`` ("OK" once the informers have synced, 503 before; CoreDNS's
ready plugin) on ``--health-port``, and ``/metrics`` on ``--metrics-port``
(0 turns either off), on the listen host. Exits 0 on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from pynetes.cli.serving import serve_http, serve_routes
from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.dns import names
from pynetes.dns.answer import Answerer, PodMode
from pynetes.dns.metrics import DnsMetrics
from pynetes.dns.server import Address, DnsServer, Forwarder
from pynetes.dns.sources import StoreSync
from pynetes.dns.store import RecordStore

log = logging.getLogger("pynetes.dns")


def parse_address(text: str, default_port: int = 53) -> Address:
    """``host:port``, ``host``, ``[v6]:port`` or ``[v6]`` -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = text.rpartition(":")
    if not sep or ":" in host:
        return text, default_port
    return host, int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None)
    parser.add_argument("--listen", type=parse_address, default=("127.0.0.1", 53))
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--ttl", type=int, default=30, help="seconds, of answers and SOA minimum")
    parser.add_argument(
        "--upstream",
        type=lambda text: [parse_address(item) for item in text.split(",") if item],
        default=[],
        help="ip:port,... to forward other names to (default: refuse them)",
    )
    parser.add_argument(
        "--pods",
        type=PodMode,
        choices=list(PodMode),
        default=PodMode.INSECURE,
        help="pod A records: none, any dashed IP (kubeadm's default), or existing pods only",
    )
    parser.add_argument("--health-port", type=int, default=8080, help="/health and /ready")
    parser.add_argument("--metrics-port", type=int, default=9153, help="/metrics")


def run(arguments: argparse.Namespace) -> int:
    return asyncio.run(_serve(arguments))


async def _serve(arguments: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    host, port = arguments.listen
    zone = names.zone(arguments.cluster_domain)
    store = RecordStore()
    forwarder = Forwarder(arguments.upstream) if arguments.upstream else None
    answerer = Answerer(
        store, zone, ttl=arguments.ttl, pods=arguments.pods, forwarding=forwarder is not None
    )
    metrics = DnsMetrics(f"dns://{host}:{port}")
    async with ApiClient(load_config(arguments.kubeconfig)) as client:
        informers = SharedInformerFactory(client)
        StoreSync(informers, store, zone, arguments.pods)
        synced = asyncio.Event()
        runners = [
            await serve_http(metrics.registry, host, arguments.metrics_port),
            await _serve_health(host, arguments.health_port, synced),
        ]
        server = DnsServer(answerer, metrics, forwarder)
        await server.start(host, port)
        informers.start()
        try:
            await informers.wait_for_cache_sync()
            synced.set()
            log.info("informers synced: %d record owners", len(store.owners()))
            await stop.wait()
        finally:
            await server.stop()
            await informers.shutdown()
            for runner in runners:
                if runner is not None:
                    await runner.cleanup()
    return 0


async def _serve_health(host: str, port: int, ready: asyncio.Event) -> web.AppRunner | None:
    """``/health`` (always "OK" while the process serves) and ``/ready`` ("OK" once
    ``ready`` is set) on ``host:port``; None when ``port`` is 0."""
    if port == 0:
        return None

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def readiness(_request: web.Request) -> web.Response:
        if ready.is_set():
            return web.Response(text="OK")
        return web.Response(status=503, text="kubernetes")

    return await serve_routes(host, port, {"/health": health, "/ready": readiness})
