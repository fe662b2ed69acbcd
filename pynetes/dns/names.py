"""The names of the Kubernetes DNS specification, and the IP-derived labels it uses.

Every name is a :class:`dns.name.Name` (absolute, compared case-insensitively),
so a name built here is the key a query's name finds in the record store.
"""

from __future__ import annotations

import ipaddress

import dns.name
import dns.reversename

#: The reverse zones the server is authoritative for (as kubeadm's Corefile has it).
REVERSE_ZONES = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))


def zone(cluster_domain: str) -> dns.name.Name:
    """The cluster zone (``cluster.local.``) from ``--cluster-domain``."""
    return dns.name.from_text(cluster_domain.strip(".") + ".")


def service(name: str, namespace: str, cluster_zone: dns.name.Name) -> dns.name.Name:
    """``<service>.<ns>.svc.<zone>``."""
    return dns.name.Name((name, namespace, "svc", *_labels(cluster_zone)))


def endpoint(label: str, name: str, namespace: str, cluster_zone: dns.name.Name) -> dns.name.Name:
    """``<hostname>.<service>.<ns>.svc.<zone>`` of a headless Service's endpoint."""
    return dns.name.Name((label, name, namespace, "svc", *_labels(cluster_zone)))


def srv(
    port_name: str, protocol: str, name: str, namespace: str, cluster_zone: dns.name.Name
) -> dns.name.Name:
    """``_<port>._<proto>.<service>.<ns>.svc.<zone>`` (the protocol in lower case)."""
    labels = (f"_{port_name}", f"_{protocol.lower()}", name, namespace, "svc")
    return dns.name.Name((*labels, *_labels(cluster_zone)))


def pod(ip: str, namespace: str, cluster_zone: dns.name.Name) -> dns.name.Name:
    """``<dashed ip>.<ns>.pod.<zone>``."""
    return dns.name.Name((dashed(ip), namespace, "pod", *_labels(cluster_zone)))


def pod_zone(cluster_zone: dns.name.Name) -> dns.name.Name:
    """``pod.<zone>``: every pod name is under it."""
    return dns.name.Name(("pod", *_labels(cluster_zone)))


def version(cluster_zone: dns.name.Name) -> dns.name.Name:
    """``dns-version.<zone>``: its TXT record is the specification's version."""
    return dns.name.Name(("dns-version", *_labels(cluster_zone)))


def reverse(ip: str) -> dns.name.Name:
    """The PTR name of ``ip`` (under in-addr.arpa or ip6.arpa)."""
    return dns.reversename.from_address(ip)


def dashed(ip: str) -> str:
    """The IP as one label: ``10.1.2.3`` -> ``10-1-2-3``, ``fd00::1`` -> ``fd00--1``
    (dots and colons become dashes, as the specification and CoreDNS write them)."""
    return ip.replace(".", "-").replace(":", "-")


def undashed(label: str) -> str | None:
    """The IP a dashed label stands for (inverse of :func:`dashed`), None if none.

    An IPv4 label has exactly four dashed parts; any other is read as IPv6.
    """
    parts = label.split("-")
    text = ".".join(parts) if len(parts) == 4 else ":".join(parts)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def reverse_zone(name: dns.name.Name) -> dns.name.Name | None:
    """The reverse zone ``name`` is in, None for a forward name."""
    return next((z for z in REVERSE_ZONES if name.is_subdomain(z)), None)


def _labels(name: dns.name.Name) -> tuple[str, ...]:
    """The labels of an absolute name as text, the root's empty label included."""
    return tuple(label.decode() for label in name.labels)
