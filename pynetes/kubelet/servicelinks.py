"""The environment variables the kubelet injects for Services (pkg/kubelet/envvars).

For each Service with a cluster IP: ``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT``
(the first port), ``<NAME>_SERVICE_PORT_<PORTNAME>`` for each named port, and the
Docker-link variables ``<NAME>_PORT``, ``<NAME>_PORT_<port>_<PROTO>`` and its
``_PROTO``, ``_PORT`` and ``_ADDR``. ``<NAME>`` is the Service's name upper-cased,
dashes made underscores. Headless and ExternalName Services have no cluster IP
and get none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Object = dict[str, Any]

#: Services of this namespace and name reach every pod, service links or not.
MASTER_SERVICE_NAMESPACE = "default"
MASTER_SERVICES = frozenset({"kubernetes"})


def has_cluster_ip(service: Object) -> bool:
    """upstream IsServiceIPSet: a cluster IP that is neither empty nor ``None``."""
    return ((service.get("spec") or {}).get("clusterIP") or "None") != "None"


def variable_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _host_port(ip: str, port: int) -> str:
    """Go's net.JoinHostPort: IPv6 addresses in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_variables(service: Object) -> list[tuple[str, str]]:
    """The variables of one Service, in upstream's order (none without a cluster IP)."""
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    if not has_cluster_ip(service) or not ports:
        return []
    ip = spec["clusterIP"]
    prefix = variable_name(service["metadata"]["name"])
    result = [
        (f"{prefix}_SERVICE_HOST", ip),
        (f"{prefix}_SERVICE_PORT", str(ports[0]["port"])),
    ]
    result += [
        (f"{prefix}_SERVICE_PORT_{variable_name(port['name'])}", str(port["port"]))
        for port in ports
        if port.get("name")
    ]
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        url = f"{protocol.lower()}://{_host_port(ip, port['port'])}"
        if index == 0:
            result.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        result += [
            (port_prefix, url),
            (f"{port_prefix}_PROTO", protocol.lower()),
            (f"{port_prefix}_PORT", str(port["port"])),
            (f"{port_prefix}_ADDR", ip),
        ]
    return result


def service_environment(
    services: Iterable[Object], namespace: str, *, enable_service_links: bool
) -> dict[str, str]:
    """upstream getServiceEnvVarMap: the variables a pod in ``namespace`` gets.

    ``services`` may hold every Service the kubelet knows. The master
    Services (``kubernetes`` in ``default``) always count; the Services of
    the pod's namespace only with service links enabled, and they win over
    a master Service of the same name. Services are taken sorted by name,
    so the result's order is stable.
    """
    chosen: dict[str, Object] = {}
    for service in services:
        metadata = service.get("metadata") or {}
        name, service_namespace = metadata.get("name", ""), metadata.get("namespace")
        if not has_cluster_ip(service):
            continue
        if service_namespace == MASTER_SERVICE_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, service)
        elif service_namespace == namespace and enable_service_links:
            chosen[name] = service
    return {key: value for name in sorted(chosen) for key, value in service_variables(chosen[name])}
