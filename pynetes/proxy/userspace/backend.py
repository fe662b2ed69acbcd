"""The userspace backend: kube-proxy's old userspace proxier, in asyncio and a
relay thread (:mod:`pynetes.proxy.userspace.relay`) for TCP's bytes.

For each TCP or UDP service port it listens on every cluster IP, on its
NodePort at each node address (:mod:`pynetes.proxy.nodeaddresses`), and on
its external and load-balancer IPs, and forwards to ready endpoints
(:meth:`ServicePort.ready_endpoints`). Traffic to node ports and external
addresses of a Service with ``externalTrafficPolicy: Local`` only goes to
endpoints on this node. Binding a cluster IP needs it to be local: a
loopback service range, or ``ip route add local <range> dev lo``
(:mod:`pynetes.proxy.localroute`). An address that cannot be bound is
logged and tried again on the next sync.

:meth:`sync` opens and closes listeners and swaps endpoint lists in place:
established connections are never cut by it.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pynetes.proxy.model import ServiceMap, ServicePort
from pynetes.proxy.nodeaddresses import Network, node_addresses
from pynetes.proxy.userspace.balancer import RoundRobin
from pynetes.proxy.userspace.relay import Relay
from pynetes.proxy.userspace.route import Route
from pynetes.proxy.userspace.tcp import TcpListener
from pynetes.proxy.userspace.udp import UdpListener

log = logging.getLogger(__name__)

#: upstream's ``--udp-timeout`` default.
UDP_IDLE_TIMEOUT = 0.25
Listener = TcpListener | UdpListener


@dataclass(frozen=True)
class _Address:
    protocol: str
    ip: str
    port: int


@dataclass(frozen=True)
class _Target:
    """What an address forwards to: a service port, through its cluster or external route."""

    key: str
    external: bool


class UserspaceBackend:
    """A :class:`~pynetes.proxy.model.ProxyBackend` made of sockets in this process."""

    def __init__(
        self,
        *,
        nodeport_cidrs: Sequence[Network],
        node_name: str | None = None,
        udp_idle_timeout: float = UDP_IDLE_TIMEOUT,
        addresses: Callable[[Sequence[Network]], list[str]] = node_addresses,
    ) -> None:
        self._nodeport_cidrs = list(nodeport_cidrs)
        self._node_name = node_name
        self._udp_idle_timeout = udp_idle_timeout
        self._addresses = addresses
        self._routes: dict[_Target, Route] = {}
        self._listeners: dict[_Address, tuple[_Target, Listener]] = {}
        self._failed: set[_Address] = set()
        self._relay = Relay()

    async def sync(self, services: ServiceMap) -> None:
        wanted = self._wanted(services)
        self._update_routes(services, set(wanted.values()))
        for address, (target, listener) in list(self._listeners.items()):
            if wanted.get(address) != target or listener.route is not self._routes[target]:
                del self._listeners[address]
                await listener.close()
        for address, target in wanted.items():
            if address not in self._listeners:
                self._open(address, target)
        for _, listener in self._listeners.values():
            await listener.refresh()
        for route in self._routes.values():
            route.balancer.purge()

    async def cleanup(self) -> None:
        """Close every listener and every TCP connection: the proxy is stopping."""
        for _, listener in self._listeners.values():
            await listener.close()
        self._listeners.clear()
        self._routes.clear()
        self._relay.stop()

    def _wanted(self, services: ServiceMap) -> dict[_Address, _Target]:
        wanted: dict[_Address, _Target] = {}
        node_ips = (
            self._addresses(self._nodeport_cidrs)
            if any(port.node_port for port in services.values())
            else []
        )
        for key in sorted(services):
            port = services[key]
            if port.protocol not in ("TCP", "UDP"):
                continue
            places = [(ip, port.port, False) for ip in port.cluster_ips]
            places += [(ip, port.node_port, True) for ip in node_ips if port.node_port]
            places += [(ip, port.port, True) for ip in port.external_ips + port.load_balancer_ips]
            for ip, number, external in places:
                address = _Address(port.protocol, ip, number)
                target = _Target(key, external and port.external_traffic_policy == "Local")
                if wanted.setdefault(address, target) != target:
                    log.warning("%s: %s:%d is already %s's", key, ip, number, wanted[address].key)
        return wanted

    def _update_routes(self, services: ServiceMap, targets: set[_Target]) -> None:
        """Routes for ``targets``, their endpoints and affinity as ``services`` say."""
        for target in list(self._routes):
            if target not in targets:
                del self._routes[target]
        for target in targets:
            port = services[target.key]
            timeout = port.affinity_timeout if port.session_affinity == "ClientIP" else None
            route = self._routes.get(target)
            if route is None or route.balancer.affinity_timeout != timeout:
                route = self._routes[target] = Route(
                    target.key, RoundRobin(affinity_timeout=timeout)
                )
            route.balancer.update(self._endpoints(port, local_only=target.external))

    def _endpoints(self, port: ServicePort, *, local_only: bool) -> list[tuple[str, int]]:
        endpoints = port.ready_endpoints()
        if local_only:
            endpoints = tuple(e for e in endpoints if e.node_name == self._node_name)
        return [(e.ip, e.port) for e in endpoints]

    def _open(self, address: _Address, target: _Target) -> None:
        route = self._routes[target]
        try:
            listener: Listener = (
                TcpListener(address.ip, address.port, route, self._relay)
                if address.protocol == "TCP"
                else UdpListener(address.ip, address.port, route, self._udp_idle_timeout)
            )
        except OSError as error:
            if address not in self._failed:
                hint = (
                    " (not a local address: is the service range made local? "
                    "see --service-cluster-ip-range)"
                    if error.errno == errno.EADDRNOTAVAIL
                    else ""
                )
                log.warning("%s: cannot bind %s: %s%s", target.key, _text(address), error, hint)
                self._failed.add(address)
            return
        self._failed.discard(address)
        self._listeners[address] = (target, listener)
        log.info("%s: listening on %s", target.key, _text(address))


def _text(address: _Address) -> str:
    host = f"[{address.ip}]" if ":" in address.ip else address.ip
    return f"{host}:{address.port}/{address.protocol}"
