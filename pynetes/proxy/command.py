"""``pynetes proxy``: kube-proxy's command line, with upstream's flags.

    pynetes proxy --kubeconfig K [--mode userspace|iptables] [--hostname-override N]
                  [--service-cluster-ip-range CIDR] [--nodeport-addresses CIDRs]
                  [--min-sync-period 1s] [--sync-period 30s] [--udp-timeout 250ms]
                  [--metrics-bind-address 127.0.0.1:10249]
                  [--healthz-bind-address 127.0.0.1:10256] [--cleanup]

``--service-cluster-ip-range`` (the API server's range) is made local with a
route on ``lo`` (:mod:`pynetes.proxy.localroute`; root) unless it is a
loopback range, which works without root: run the API server with e.g.
``--service-cluster-ip-range 127.100.0.0/16``. ``--cleanup`` removes that
route and every iptables rule of the iptables mode, then exits.

Serves ``/healthz`` and ``/livez`` (upstream's JSON; 503 until the first sync
and while a change waits longer than twice ``--sync-period``) on the healthz
address, ``/metrics``, ``/healthz`` and ``/proxyMode`` on the metrics address
(port 0 turns either off). Exit codes: 0 after SIGTERM or SIGINT and after
``--cleanup``, 1 for invalid flags or a failed set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from pynetes.api.duration import DurationError, parse_duration
from pynetes.cli.flags import add_bool_flag
from pynetes.cli.serving import serve_http, serve_routes
from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.config import ConfigError, load_config
from pynetes.client.rest import ApiClient
from pynetes.proxy import localroute
from pynetes.proxy.metrics import ProxyMetrics
from pynetes.proxy.model import ProxyBackend
from pynetes.proxy.nodeaddresses import DEFAULT, Network, node_addresses, parse_cidrs
from pynetes.proxy.proxier import Proxier
from pynetes.proxy.userspace import UserspaceBackend

log = logging.getLogger("pynetes.proxy")


class UsageError(ValueError):
    """An invalid flag; the message says which and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, help="how to reach the API server")
    parser.add_argument("--mode", choices=["userspace", "iptables"], default="userspace")
    parser.add_argument(
        "--hostname-override",
        default=socket.gethostname().lower(),
        help="this node's name (endpoints on it are local; default: the host name)",
    )
    parser.add_argument(
        "--service-cluster-ip-range",
        help="the API server's service range: made local with a route on lo unless loopback",
    )
    parser.add_argument(
        "--nodeport-addresses",
        default=DEFAULT,
        help="CIDRs whose local addresses NodePorts listen on (default: loopback only; "
        "upstream's default is every address)",
    )
    parser.add_argument("--cluster-cidr", help="the pod range (iptables: masquerade from outside)")
    add_bool_flag(parser, "--masquerade-all", False, "iptables: masquerade all")
    parser.add_argument("--min-sync-period", default="1s", help="least time between syncs")
    parser.add_argument("--sync-period", default="30s", help="most time between syncs")
    parser.add_argument("--udp-timeout", default="250ms", help="userspace: idle UDP session")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:10249")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1:10256")
    parser.add_argument(
        "--cleanup", action="store_true", help="remove the route and iptables rules, then exit"
    )


def run(arguments: argparse.Namespace) -> int:
    try:
        options = _Options(arguments)
    except UsageError as error:
        print(f"proxy: {error}", file=sys.stderr)
        return 1
    try:
        if arguments.cleanup:
            return asyncio.run(_cleanup(options))
        return asyncio.run(_serve(options))
    except (UsageError, ConfigError, localroute.RouteError) as error:
        print(f"proxy: {error}", file=sys.stderr)
        return 1


class _Options:
    """The flags, checked."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.min_sync_period = _duration(arguments, "min_sync_period")
        self.sync_period = _duration(arguments, "sync_period")
        self.udp_timeout = _duration(arguments, "udp_timeout")
        self.service_range = _cidr(arguments.service_cluster_ip_range)
        try:
            self.nodeport_cidrs = parse_cidrs(arguments.nodeport_addresses)
        except ValueError as error:
            raise UsageError(f"--nodeport-addresses: {error}") from None
        self.metrics_address = _host_port(arguments.metrics_bind_address, "metrics")
        self.healthz_address = _host_port(arguments.healthz_bind_address, "healthz")
        if not arguments.cleanup and arguments.kubeconfig is None:
            raise UsageError("--kubeconfig is required")


async def _cleanup(options: _Options) -> int:
    """Remove the service range's route and the iptables mode's rules."""
    if options.service_range is not None:
        await localroute.remove_local_route(options.service_range)
    iptables = _iptables_module(required=False)
    if iptables is not None and os.geteuid() == 0:
        await iptables.IptablesProxier().cleanup()
    return 0


async def _serve(options: _Options) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if options.service_range is not None and localroute.needs_route(options.service_range):
        if os.geteuid() != 0:
            raise UsageError(
                f"the service range {options.service_range} is not loopback: making it local "
                "needs root (without root, give the API server a loopback range such as "
                "--service-cluster-ip-range 127.100.0.0/16)"
            )
        await localroute.ensure_local_route(options.service_range)
    backend = _backend(options)
    metrics = ProxyMetrics(CollectorRegistry())
    async with ApiClient(load_config(options.arguments.kubeconfig)) as client:
        informers = SharedInformerFactory(client)
        proxier = Proxier(
            informers,
            backend,
            metrics,
            min_sync_period=options.min_sync_period,
            sync_period=options.sync_period,
        )
        informers.start()
        servers = await _serve_http(options, proxier)
        work = asyncio.create_task(proxier.run(), name="proxier")
        stopped = asyncio.create_task(stop.wait())
        log.info(
            "proxy of node %s in %s mode",
            options.arguments.hostname_override,
            options.arguments.mode,
        )
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, stopped):
                task.cancel()
            await asyncio.gather(work, stopped, return_exceptions=True)
            for server in servers:
                await server.cleanup()
            await informers.shutdown()
            if isinstance(backend, UserspaceBackend):
                await backend.cleanup()  # iptables rules stay, as upstream's do
        if work.done() and not work.cancelled() and work.exception() is not None:
            log.error("proxier failed: %s", work.exception())
            return 1
    return 0


def _backend(options: _Options) -> ProxyBackend:
    arguments = options.arguments
    if arguments.mode == "userspace":
        return UserspaceBackend(
            nodeport_cidrs=options.nodeport_cidrs,
            node_name=arguments.hostname_override,
            udp_idle_timeout=options.udp_timeout,
        )
    iptables = _iptables_module(required=True)
    addresses = tuple(node_addresses([net for net in options.nodeport_cidrs if net.version == 4]))
    if not addresses:  # the backend reads no address as every address
        raise UsageError("--nodeport-addresses: no IPv4 address of this machine is inside them")
    backend: ProxyBackend = iptables.IptablesProxier(
        cluster_cidr=arguments.cluster_cidr,
        masquerade_all=arguments.masquerade_all,
        node_port_addresses=addresses,
        localhost_nodeports=any(ipaddress.ip_address(a).is_loopback for a in addresses),
        node_name=arguments.hostname_override,
        sync_period=options.sync_period,
    )
    return backend


def _iptables_module(*, required: bool) -> Any:
    """``pynetes.proxy.iptables`` (built separately), or None / UsageError if absent."""
    try:
        return importlib.import_module("pynetes.proxy.iptables")
    except ImportError as error:
        if not required:
            return None
        raise UsageError(f"--mode iptables is not available in this build ({error})") from None


async def _serve_http(options: _Options, proxier: Proxier) -> list[web.AppRunner]:
    mode = str(options.arguments.mode)

    async def proxy_mode(_request: web.Request) -> web.Response:
        return web.Response(text=mode)

    servers = []
    host, port = options.metrics_address
    metrics = await serve_http(proxier.metrics.registry, host, port, {"/proxyMode": proxy_mode})
    if metrics is not None:
        servers.append(metrics)
    host, port = options.healthz_address
    if port:
        servers.append(await _serve_health(proxier, host, port))
    return servers


async def _serve_health(proxier: Proxier, host: str, port: int) -> web.AppRunner:
    """Upstream's proxier health server: JSON, 200 when healthy else 503."""

    async def health(_request: web.Request) -> web.Response:
        updated = proxier.last_updated
        body = {
            "lastUpdated": _rfc3339(updated) if updated is not None else "",
            "currentTime": _rfc3339(time.time()),
            "nodeEligible": True,
        }
        return web.json_response(body, status=200 if proxier.healthy() else 503)

    return await serve_routes(host, port, {"/healthz": health, "/livez": health})


def _rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def _duration(arguments: argparse.Namespace, name: str) -> float:
    text = getattr(arguments, name)
    try:
        value = parse_duration(text)
    except DurationError as error:
        raise UsageError(f"--{name.replace('_', '-')}: {error}") from None
    if value < 0:
        raise UsageError(f"--{name.replace('_', '-')} must not be negative")
    return value


def _cidr(text: str | None) -> Network | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text)
    except ValueError as error:
        raise UsageError(f"--service-cluster-ip-range: {error}") from None


def _host_port(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    with contextlib.suppress(ValueError):
        if host and 0 <= int(port) < 65536:
            return host.strip("[]"), int(port)
    raise UsageError(f"--{what}-bind-address: want host:port, not {text!r}")
