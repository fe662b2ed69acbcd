"""The names of kube-proxy's iptables chains, computed exactly as upstream does.

Upstream names a Service port's chains by hashing its ServicePortName string
(``namespace/name:port``) and protocol, so the same Service gets the same chain
on every node and across restarts, and the name fits iptables' 28-character
limit: ``base32(sha256(name + protocol))[:16]`` after a ``KUBE-SVC-`` /
``KUBE-EXT-`` prefix; an endpoint's ``KUBE-SEP-`` chain also hashes ``ip:port``.
"""

from __future__ import annotations

import base64
import hashlib

#: nat: every Service address; jumped to from PREROUTING and OUTPUT.
SERVICES = "KUBE-SERVICES"
#: nat: every NodePort (the last rule of KUBE-SERVICES jumps here for local addresses).
NODEPORTS = "KUBE-NODEPORTS"
#: nat: masquerades the packets KUBE-MARK-MASQ marked; jumped to from POSTROUTING.
POSTROUTING = "KUBE-POSTROUTING"
#: nat: marks a packet for masquerade.
MARK_MASQ = "KUBE-MARK-MASQ"
#: filter: rejects external addresses (external IPs, NodePorts) without endpoints.
EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
#: filter: accepts forwarded Service traffic.
FORWARD = "KUBE-FORWARD"
#: filter: drops martian packets to 127.0.0.0/8 when route_localnet is on.
FIREWALL = "KUBE-FIREWALL"

#: The prefixes of the per-Service-port chains a sync creates and later deletes.
PER_SERVICE_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-EXT-")

#: Every fixed chain this backend may own, by table (cleanup removes them all).
FIXED_CHAINS = {
    "filter": (SERVICES, EXTERNAL_SERVICES, FORWARD, FIREWALL),
    "nat": (SERVICES, NODEPORTS, POSTROUTING, MARK_MASQ),
}


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """Upstream's portProtoHash: 16 base32 characters of sha256(name + protocol)."""
    return _hash(service_port_name + protocol.lower())


def service_chain(service_port_name: str, protocol: str) -> str:
    """``KUBE-SVC-...``: load-balances a Service port over its endpoints."""
    return "KUBE-SVC-" + port_proto_hash(service_port_name, protocol)


def external_chain(service_port_name: str, protocol: str) -> str:
    """``KUBE-EXT-...``: traffic from outside the cluster (NodePort, external IPs)."""
    return "KUBE-EXT-" + port_proto_hash(service_port_name, protocol)


def local_chain(service_port_name: str, protocol: str) -> str:
    """``KUBE-SVL-...``: load-balances over this node's endpoints only
    (``externalTrafficPolicy: Local``)."""
    return "KUBE-SVL-" + port_proto_hash(service_port_name, protocol)


def endpoint_chain(service_port_name: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-...``: DNATs to one endpoint (``endpoint`` is ``ip:port``)."""
    return "KUBE-SEP-" + _hash(service_port_name + protocol.lower() + endpoint)


def is_owned(table: str, chain: str) -> bool:
    """Whether ``chain`` in ``table`` is one this backend creates (and cleanup removes)."""
    return chain in FIXED_CHAINS.get(table, ()) or (
        table == "nat" and chain.startswith(PER_SERVICE_PREFIXES)
    )
