"""The records of the Kubernetes DNS specification, computed from API objects.

Pure functions from a Service (with its EndpointSlices) or a Pod to the
records they give (:data:`pynetes.dns.store.Records`); the informers
(:mod:`pynetes.dns.sources`) put them in the store. Section numbers are
the specification's (kubernetes/dns docs/specification.md, schema 1.1.0).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
from dns.rdata import Rdata
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from pynetes.dns import names
from pynetes.dns.store import Records

__all__ = ["Records", "pod_records", "service_records", "zone_records"]

Object = dict[str, Any]
IN = dns.rdataclass.IN
#: The specification's version, the TXT record of ``dns-version.<zone>`` (2.2).
SCHEMA_VERSION = "1.1.0"
#: CoreDNS's SRV priority; weights share 100 among the records of one name.
SRV_PRIORITY = 0


def zone_records(cluster_zone: dns.name.Name) -> Records:
    """The zone's own records: the schema version (2.2) and the apex NS (as CoreDNS's
    ``ns.dns.<zone>``)."""
    return {
        names.version(cluster_zone): [TXT(IN, dns.rdatatype.TXT, [SCHEMA_VERSION.encode()])],
        cluster_zone: [NS(IN, dns.rdatatype.NS, ns_name(cluster_zone))],
    }


def ns_name(cluster_zone: dns.name.Name) -> dns.name.Name:
    """The zone's name server, in its NS and SOA records (CoreDNS's ``ns.dns.<zone>``)."""
    return dns.name.Name((b"ns", b"dns", *cluster_zone.labels))


def address(ip: str) -> Rdata:
    """An A or AAAA record of ``ip``."""
    if ipaddress.ip_address(ip).version == 6:
        return AAAA(IN, dns.rdatatype.AAAA, ip)
    return A(IN, dns.rdatatype.A, ip)


def service_records(
    service: Object, slices: Iterable[Object], cluster_zone: dns.name.Name
) -> Records:
    """The records of one Service: ClusterIP (2.3), headless (``clusterIP: None``, 2.4)
    or ExternalName (2.5); none while it has no ClusterIP.

    ``slices`` are its EndpointSlices (used only when it is headless).
    """
    meta, spec = service["metadata"], service.get("spec") or {}
    name, namespace = meta["name"], meta.get("namespace") or "default"
    own = names.service(name, namespace, cluster_zone)
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        external = spec.get("externalName") or ""
        if not external:
            return {}
        return {own: [CNAME(IN, dns.rdatatype.CNAME, dns.name.from_text(external))]}
    cluster_ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip]
    if cluster_ips == ["None"]:
        return _headless(service, slices, cluster_zone)
    if not cluster_ips:  # no address allocated (yet): nothing to answer
        return {}
    records: dict[dns.name.Name, list[Rdata]] = defaultdict(list)
    for ip in cluster_ips:
        records[own].append(address(ip))
        records[names.reverse(ip)].append(PTR(IN, dns.rdatatype.PTR, own))
    for port in spec.get("ports") or []:
        if port.get("name"):
            srv_name = names.srv(
                port["name"], port.get("protocol") or "TCP", name, namespace, cluster_zone
            )
            records[srv_name].append((int(port["port"]), own))
    return _weighted(records)


def pod_records(pod: Object, cluster_zone: dns.name.Name) -> Records:
    """``<dashed ip>.<ns>.pod.<zone>`` for each of a running pod's IPs (``pods verified``).

    A pod being deleted has none (as CoreDNS leaves out deleting pods).
    """
    meta = pod["metadata"]
    if meta.get("deletionTimestamp"):
        return {}
    status = pod.get("status") or {}
    ips = [entry["ip"] for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    namespace = meta.get("namespace") or "default"
    return {names.pod(ip, namespace, cluster_zone): [address(ip)] for ip in ips}


def _headless(service: Object, slices: Iterable[Object], cluster_zone: dns.name.Name) -> Records:
    """A per ready endpoint, a name per endpoint (its hostname, else its dashed IP)
    with its PTR, and an SRV per endpoint and named port (2.4)."""
    meta, spec = service["metadata"], service.get("spec") or {}
    name, namespace = meta["name"], meta.get("namespace") or "default"
    own = names.service(name, namespace, cluster_zone)
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    records: dict[dns.name.Name, list[Any]] = defaultdict(list)
    seen: set[tuple[str, str, str]] = set()
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType") not in ("IPv4", "IPv6"):
            continue
        ports = [p for p in endpoint_slice.get("ports") or [] if p.get("port") is not None]
        for endpoint in endpoint_slice.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready")
            if ready is False and not publish_not_ready:
                continue
            hostname = endpoint.get("hostname") or ""
            for ip in endpoint.get("addresses") or []:
                target = names.endpoint(hostname or names.dashed(ip), name, namespace, cluster_zone)
                for port in ports:
                    if not port.get("name"):
                        continue
                    key = (ip, port["name"], port.get("protocol") or "TCP")
                    if key in seen:
                        continue
                    seen.add(key)
                    srv_name = names.srv(key[1], key[2], name, namespace, cluster_zone)
                    records[srv_name].append((int(port["port"]), target))
                if address(ip) in records[target]:
                    continue
                records[own].append(address(ip))
                records[target].append(address(ip))
                records[names.reverse(ip)].append(PTR(IN, dns.rdatatype.PTR, target))
    return _weighted(records)


def _weighted(records: dict[dns.name.Name, list[Any]]) -> Records:
    """``records`` with each (port, target) made an SRV record; the records of one
    name share a weight of 100 as CoreDNS shares it."""
    made: dict[dns.name.Name, list[Rdata]] = {}
    for name, values in records.items():
        srvs = [value for value in values if isinstance(value, tuple)]
        if not srvs:
            made[name] = values
            continue
        weight = max(100 // len(srvs), 1)
        made[name] = [
            SRV(IN, dns.rdatatype.SRV, SRV_PRIORITY, weight, port, target) for port, target in srvs
        ]
    return made
