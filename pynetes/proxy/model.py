"""What a proxy backend is given: every Service port of the cluster with its endpoints.

The service tracker (built from the Services and EndpointSlices the proxy
watches) hands each backend a complete :data:`ServiceMap` on every change;
a backend makes its data path match it (listeners for userspace, iptables
rules for iptables). Plain frozen values: backends compare them to find what
changed, and tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

#: upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True)
class Endpoint:
    """One backend address of a Service port (an EndpointSlice endpoint and port)."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, as kube-proxy's ServicePortName plus what routes it."""

    namespace: str
    name: str
    #: The ``name`` of the port in the Service ("" for a single unnamed port).
    port_name: str
    protocol: str
    cluster_ips: tuple[str, ...]
    port: int
    node_port: int = 0
    session_affinity: str = "None"
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    #: ``Cluster`` or ``Local`` (externalTrafficPolicy, for NodePorts).
    external_traffic_policy: str = "Cluster"
    endpoints: tuple[Endpoint, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        """``namespace/name:port_name`` (``namespace/name`` when the port has no name)."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    def ready_endpoints(self) -> tuple[Endpoint, ...]:
        """Where new connections go: ready endpoints, else serving terminating ones (as
        upstream's kube-proxy falls back to them)."""
        ready = tuple(e for e in self.endpoints if e.ready)
        if ready:
            return ready
        return tuple(e for e in self.endpoints if e.serving and e.terminating)


#: ``ServicePort.key`` -> the port.
ServiceMap = Mapping[str, ServicePort]


class ProxyBackend(Protocol):
    """A data path: ``sync`` makes it match ``services`` (idempotent, whole state each
    time); ``cleanup`` removes everything it installed."""

    async def sync(self, services: ServiceMap) -> None: ...

    async def cleanup(self) -> None: ...
