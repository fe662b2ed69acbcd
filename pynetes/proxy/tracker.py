"""The service tracker: the cluster's :data:`~pynetes.proxy.model.ServiceMap`, kept
current from informers on Services and EndpointSlices, as upstream's kube-proxy
computes it (``pkg/proxy``: ServiceChangeTracker and EndpointSliceCache).

* A Service is proxied unless it has no cluster IP (headless, or none yet) or
  is an ExternalName; each of its ports is one :class:`ServicePort`.
* A Service's endpoints come from the slices labelled
  ``kubernetes.io/service-name: <service>`` in its namespace; a slice port
  feeds the Service port of the same name and protocol. Slices of the FQDN
  address type, slice ports without a name or port number, endpoints without
  an address and endpoints of an IP family the Service has no cluster IP of
  are ignored. Endpoints in several slices count once (the slice first by
  name wins); each port's endpoints are sorted by ``ip:port``.
* Conditions as upstream reads them: ``ready`` and ``serving`` are true when
  unset, ``terminating`` false.
* As upstream's informers, only objects without the
  ``service.kubernetes.io/service-proxy-name`` label (another proxy's) and
  without ``service.kubernetes.io/headless`` are watched.

Each event recomputes the one Service it concerns; when its ports changed,
the tracker calls ``on_change`` with the kind of change ("service" or
"endpoints"). The map is whole and fresh on each :meth:`checkout`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pynetes.api.meta import parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler, SharedInformerFactory
from pynetes.proxy.model import DEFAULT_AFFINITY_TIMEOUT, Endpoint, ServiceMap, ServicePort

log = logging.getLogger(__name__)

Object = dict[str, Any]
ChangeKind = Literal["service", "endpoints"]

SERVICES = built_in("", "v1", "services")
ENDPOINT_SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
#: The label naming the Service a slice belongs to.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: What kube-proxy watches (upstream: no ``service-proxy-name``, no ``headless`` label).
PROXIED_SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
#: When the change a slice reflects happened (set by the endpointslice controller).
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
SUPPORTED_ADDRESS_TYPES = frozenset({"IPv4", "IPv6"})
_BY_SERVICE = "service"


def is_proxied(service: Object) -> bool:
    """False for a Service kube-proxy skips: no cluster IP ("" or "None"), or ExternalName."""
    spec = service.get("spec") or {}
    if spec.get("clusterIP") in (None, "", "None"):
        return False
    return spec.get("type") != "ExternalName"


def service_ports(service: Object, slices: Iterable[Object]) -> dict[str, ServicePort]:
    """The ports of ``service`` (``ServicePort.key`` -> port) with the endpoints of
    ``slices`` (the slices labelled with its name); empty when it is not proxied."""
    if not is_proxied(service):
        return {}
    metadata, spec = service["metadata"], service.get("spec") or {}
    cluster_ips = tuple(spec.get("clusterIPs") or [spec["clusterIP"]])
    families = {ipaddress.ip_address(ip).version for ip in cluster_ips}
    endpoints = slice_endpoints(slices, families)
    affinity = spec.get("sessionAffinity") or "None"
    timeout = (
        ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if affinity == "ClientIP"
        else None
    )
    shared = {
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "cluster_ips": cluster_ips,
        "session_affinity": affinity,
        "affinity_timeout": timeout or DEFAULT_AFFINITY_TIMEOUT,
        "external_ips": _of_families(spec.get("externalIPs") or (), families),
        "load_balancer_ips": _load_balancer_ips(service, families),
        "external_traffic_policy": _external_policy(spec),
    }
    ports: dict[str, ServicePort] = {}
    for port in spec.get("ports") or ():
        name, protocol = port.get("name") or "", port.get("protocol") or "TCP"
        service_port = ServicePort(
            port_name=name,
            protocol=protocol,
            port=port["port"],
            node_port=port.get("nodePort") or 0,
            endpoints=endpoints.get((name, protocol), ()),
            **shared,
        )
        ports[service_port.key] = service_port
    return ports


def slice_endpoints(
    slices: Iterable[Object], families: set[int]
) -> dict[tuple[str, str], tuple[Endpoint, ...]]:
    """(port name, protocol) -> the endpoints of ``slices`` for it, merged as upstream's
    EndpointSliceCache merges them (see the module's docstring)."""
    merged: dict[tuple[str, str], dict[str, Endpoint]] = {}
    for endpoint_slice in sorted(slices, key=lambda s: s["metadata"]["name"]):
        if endpoint_slice.get("addressType") not in SUPPORTED_ADDRESS_TYPES:
            continue
        for port in endpoint_slice.get("ports") or ():
            name, number = port.get("name"), port.get("port")
            if name is None or not number:
                continue
            found = merged.setdefault((name, port.get("protocol") or "TCP"), {})
            for endpoint in _endpoints(endpoint_slice, number, families):
                found.setdefault(_host_port(endpoint), endpoint)
    return {
        port: tuple(found[key] for key in sorted(found)) for port, found in merged.items() if found
    }


def _endpoints(endpoint_slice: Object, port: int, families: set[int]) -> Iterable[Endpoint]:
    for endpoint in endpoint_slice.get("endpoints") or ():
        addresses = endpoint.get("addresses") or ()
        if not addresses or ipaddress.ip_address(addresses[0]).version not in families:
            continue
        conditions = endpoint.get("conditions") or {}
        yield Endpoint(
            ip=addresses[0],
            port=port,
            ready=conditions.get("ready") is not False,
            serving=conditions.get("serving") is not False,
            terminating=conditions.get("terminating") is True,
            node_name=endpoint.get("nodeName"),
            zone=endpoint.get("zone"),
        )


def _host_port(endpoint: Endpoint) -> str:
    """Go's ``net.JoinHostPort``: upstream's endpoint string, its sort and dedup key."""
    host = f"[{endpoint.ip}]" if ":" in endpoint.ip else endpoint.ip
    return f"{host}:{endpoint.port}"


def _of_families(ips: Iterable[str], families: set[int]) -> tuple[str, ...]:
    return tuple(ip for ip in ips if ipaddress.ip_address(ip).version in families)


def _load_balancer_ips(service: Object, families: set[int]) -> tuple[str, ...]:
    """Ingress IPs of the load balancer, except those it proxies itself (ipMode Proxy)."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    ips = (entry["ip"] for entry in ingress if entry.get("ip") and entry.get("ipMode") != "Proxy")
    return _of_families(ips, families)


def _external_policy(spec: Object) -> str:
    """``Local`` only for a Service reachable from outside (upstream's ExternalPolicyLocal)."""
    external = spec.get("type") in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    return "Local" if external and spec.get("externalTrafficPolicy") == "Local" else "Cluster"


def _slice_service(endpoint_slice: Object) -> list[str]:
    """The ``namespace/name`` of the Service a slice belongs to (none without the label)."""
    metadata = endpoint_slice.get("metadata") or {}
    service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{metadata.get('namespace')}/{service}"] if service else []


@dataclass(frozen=True)
class Checkout:
    """What a sync applies: the whole map, and when the changes it carries were triggered
    (the slices' trigger times, for the network programming latency)."""

    services: ServiceMap
    trigger_times: tuple[datetime, ...]


class ServiceTracker:
    """The ServiceMap of the Services and EndpointSlices the informers of ``informers``
    hold; builds those informers (start the factory after building the tracker)."""

    def __init__(
        self,
        informers: SharedInformerFactory,
        *,
        on_change: Callable[[ChangeKind], None] = lambda _kind: None,
    ) -> None:
        self._on_change = on_change
        self._services = informers.informer(SERVICES, label_selector=PROXIED_SELECTOR)
        self._slices = informers.informer(
            ENDPOINT_SLICES, label_selector=PROXIED_SELECTOR, indexers={_BY_SERVICE: _slice_service}
        )
        self._ports: dict[str, dict[str, ServicePort]] = {}
        self._map: dict[str, ServicePort] | None = None
        self._trigger_times: list[datetime] = []
        self._services.add_event_handler(
            EventHandler(
                on_add=self._service_changed,
                on_update=lambda _old, new: self._service_changed(new),
                on_delete=self._service_changed,
            )
        )
        self._slices.add_event_handler(
            EventHandler(
                on_add=lambda new: self._slice_changed(None, new),
                on_update=self._slice_changed,
                on_delete=lambda old: self._slice_changed(old, None),
            )
        )

    @property
    def synced(self) -> bool:
        return self._services.has_synced and self._slices.has_synced

    async def wait_for_sync(self) -> None:
        await asyncio.gather(self._services.wait_for_sync(), self._slices.wait_for_sync())

    def service_map(self) -> ServiceMap:
        """Every proxied Service port now (a fresh mapping after each change)."""
        if self._map is None:
            self._map = {key: port for ports in self._ports.values() for key, port in ports.items()}
        return self._map

    def checkout(self) -> Checkout:
        """The map to apply, with the trigger times of the changes since the last checkout."""
        times, self._trigger_times = tuple(self._trigger_times), []
        return Checkout(self.service_map(), times)

    def _service_changed(self, service: Object) -> None:
        self._recompute(object_key(service), "service")

    def _slice_changed(self, old: Object | None, new: Object | None) -> None:
        keys = {*(_slice_service(old) if old else ()), *(_slice_service(new) if new else ())}
        changed = False
        for key in keys:
            changed = self._recompute(key, "endpoints") or changed
        annotations = ((new or {}).get("metadata") or {}).get("annotations") or {}
        trigger = annotations.get(LAST_CHANGE_TRIGGER_TIME)
        moment = parse_timestamp(trigger) if changed and trigger else None
        if moment is not None:
            self._trigger_times.append(moment)

    def _recompute(self, key: str, kind: ChangeKind) -> bool:
        """Recompute the ports of the Service ``key``; True (and ``on_change``) if they changed."""
        namespace, _, name = key.partition("/")
        service = self._services.lister.get(name, namespace)
        slices = self._slices.store.by_index(_BY_SERVICE, key)
        ports = service_ports(service, slices) if service is not None else {}
        if ports == self._ports.get(key, {}):
            return False
        if ports:
            self._ports[key] = ports
        else:
            self._ports.pop(key, None)
        self._map = None
        log.debug("service %s: %d ports changed (%s)", key, len(ports), kind)
        self._on_change(kind)
        return True
