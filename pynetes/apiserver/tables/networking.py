"""discovery.k8s.io endpointslices; networking.k8s.io ingresses, ingressclasses, networkpolicies."""

from __future__ import annotations

from datetime import datetime

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import (
    NONE,
    UNSET,
    Object,
    created,
    first_three,
    format_label_selector,
    name,
    section,
)
from pynetes.apiserver.tables.columns import AGE, NAME, Cells, Column, Doc, Printer
from pynetes.apiserver.tables.core import load_balancer_addresses

_HOSTS_SHOWN = 3

_SLICE = "io.k8s.api.discovery.v1.EndpointSlice"
_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", Doc(_SLICE, "addressType")),
    Column("Ports", "string", Doc(_SLICE, "ports")),
    Column("Endpoints", "string", Doc(_SLICE, "endpoints")),
    AGE,
)


def _endpointslice(endpoint_slice: Object, now: datetime) -> Cells:
    ports = [_port(port) for port in endpoint_slice.get("ports") or []]
    addresses = [
        address
        for endpoint in endpoint_slice.get("endpoints") or []
        for address in endpoint.get("addresses") or []
    ]
    return [
        name(endpoint_slice),
        endpoint_slice.get("addressType", ""),
        _listed(ports),
        _listed(addresses),
        age.since(created(endpoint_slice), now),
    ]


def _port(port: Object) -> str:
    """A port's number, else its name, else ``*`` (all ports)."""
    if port.get("port") is not None:
        return str(port["port"])
    if port.get("name") is not None:
        return port["name"]
    return "*"


def _listed(entries: list[str]) -> str:
    """``listWithMoreString``: three entries, ``+ N more...``; ``<unset>`` when empty."""
    return first_three(entries) or UNSET


_INGRESS_COLUMNS = (
    NAME,
    Column(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    Column(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    Column(
        "Address", "string", "Address is a list containing ingress points for the load-balancer"
    ),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
)


def _ingress(ingress: Object, now: datetime) -> Cells:
    spec = section(ingress, "spec")
    class_name = spec.get("ingressClassName")
    balancer = section(section(ingress, "status"), "loadBalancer")
    return [
        name(ingress),
        NONE if class_name is None else class_name,
        _hosts(spec.get("rules") or []),
        ",".join(load_balancer_addresses(balancer)),
        "80, 443" if spec.get("tls") else "80",
        age.since(created(ingress), now),
    ]


def _hosts(rules: list[Object]) -> str:
    """``formatHosts``: the first three hosts, ``*`` when no rule names one.

    Once three hosts are shown, upstream reports ``len(rules) - 3`` more,
    counting rules without a host too.
    """
    hosts: list[str] = []
    for rule in rules:
        if len(hosts) == _HOSTS_SHOWN:
            return f"{','.join(hosts)} + {len(rules) - _HOSTS_SHOWN} more..."
        if rule.get("host"):
            hosts.append(rule["host"])
    return ",".join(hosts) or "*"


_INGRESSCLASS_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
)


def _ingressclass(ingress_class: Object, now: datetime) -> Cells:
    spec = section(ingress_class, "spec")
    return [
        name(ingress_class),
        spec.get("controller", ""),
        _parameters(spec.get("parameters")),
        age.since(created(ingress_class), now),
    ]


def _parameters(parameters: Object | None) -> str:
    if parameters is None:
        return NONE
    kind = parameters.get("kind", "")
    group = parameters.get("apiGroup")
    qualified = kind if group is None else f"{kind}.{group}"
    return f"{qualified}/{parameters.get('name', '')}"


_NETWORKPOLICY_COLUMNS = (
    NAME,
    Column(
        "Pod-Selector", "string", Doc("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector")
    ),
    AGE,
)


def _networkpolicy(policy: Object, now: datetime) -> Cells:
    selector = section(policy, "spec").get("podSelector")
    return [name(policy), format_label_selector(selector), age.since(created(policy), now)]


PRINTERS = {
    ("discovery.k8s.io", "endpointslices"): Printer(_SLICE_COLUMNS, _endpointslice),
    ("networking.k8s.io", "ingresses"): Printer(_INGRESS_COLUMNS, _ingress),
    ("networking.k8s.io", "ingressclasses"): Printer(_INGRESSCLASS_COLUMNS, _ingressclass),
    ("networking.k8s.io", "networkpolicies"): Printer(_NETWORKPOLICY_COLUMNS, _networkpolicy),
}
