"""Services and EndpointSlices, as upstream validates them.

``ValidateService``/``ValidateServiceUpdate`` (core) and the EndpointSlice
rules (discovery). Allocated values follow upstream's strategy: an update
that omits ``clusterIP``/``clusterIPs`` keeps the allocated ones, so only a
real change is refused. Whether a nodePort or clusterIP is inside its range
is the allocator's to say (``pynetes.apiserver.servicealloc``), as upstream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from pynetes.api.gofmt import go_quote, go_string_slice
from pynetes.api.validation import syntax
from pynetes.api.validation.containers import PORT_PROTOCOLS, validate_port_num_or_name
from pynetes.api.validation.govalues import duplicate_go, go_int_or_string, go_struct, invalid_go
from pynetes.api.validation.metadata import IMMUTABLE, validate_labels

Object = Mapping[str, Any]

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_MAX_ADDRESSES = 100


def cluster_ips(spec: Object) -> list[str]:
    """``clusterIPs``, or the single ``clusterIP`` the strategy would copy there."""
    ips = spec.get("clusterIPs")
    if ips:
        return list(ips)
    return [spec["clusterIP"]] if spec.get("clusterIP") else []


def is_headless(spec: Object) -> bool:
    return cluster_ips(spec) == ["None"]


def validate_service(service: Object) -> list[FieldError]:
    """upstream ValidateService, after the metadata checks."""
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ports = spec.get("ports") or []
    errors: list[FieldError] = []
    if not ports and not is_headless(spec) and kind != "ExternalName":
        errors.append(required("spec.ports"))
    errors += _validate_type_specifics(spec, kind)
    names: set[str] = set()
    for index, port in enumerate(ports):
        errors += _validate_service_port(port, len(ports) > 1, names, f"spec.ports[{index}]")
    errors += validate_labels(spec.get("selector") or {}, "spec.selector")
    errors += _validate_session_affinity(spec)
    if kind != "ExternalName":
        errors += _validate_cluster_ips(spec)
    for index, ip in enumerate(spec.get("externalIPs") or []):
        here = f"spec.externalIPs[{index}]"
        problems = syntax.is_valid_ip(here, ip)
        errors += problems or validate_non_special_ip(ip, here)
    if not kind:
        errors.append(required("spec.type"))
    elif kind not in SERVICE_TYPES:
        errors.append(not_supported("spec.type", kind, SERVICE_TYPES))
    errors += _validate_node_ports(ports, kind)
    errors += _validate_duplicate_ports(ports)
    errors += _validate_load_balancer_fields(spec, kind)
    return errors + _validate_traffic_policies(spec, kind)


def _validate_type_specifics(spec: Object, kind: str) -> list[FieldError]:
    if kind in ("LoadBalancer", "NodePort") and is_headless(spec):
        return [
            invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services")
        ]
    if kind != "ExternalName":
        return []
    errors: list[FieldError] = []
    for key in ("clusterIPs", "ipFamilies"):
        if spec.get(key):
            errors.append(forbidden(f"spec.{key}", "may not be set for ExternalName services"))
    if spec.get("ipFamilyPolicy") is not None:
        errors.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
    name = (spec.get("externalName") or "").removesuffix(".")
    if not name:
        errors.append(required("spec.externalName"))
    else:
        errors += [invalid("spec.externalName", name, m) for m in syntax.is_dns1123_subdomain(name)]
    return errors


def _validate_service_port(
    port: Object, require_name: bool, names: set[str], path: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    name = port.get("name") or ""
    if require_name and not name:
        errors.append(required(f"{path}.name"))
    elif name:
        errors += [invalid(f"{path}.name", name, m) for m in syntax.is_dns1123_label(name)]
        if name in names:
            errors.append(duplicate(f"{path}.name", name))
        names.add(name)
    number = port.get("port") or 0
    errors += [invalid(f"{path}.port", number, m) for m in syntax.is_valid_port_num(number)]
    protocol = port.get("protocol", "TCP")
    if not protocol:
        errors.append(required(f"{path}.protocol"))
    elif protocol not in PORT_PROTOCOLS:
        errors.append(not_supported(f"{path}.protocol", protocol, PORT_PROTOCOLS))
    # v1 defaulting turns an unset or zero targetPort into the port.
    target = port.get("targetPort") or number
    errors += validate_port_num_or_name(target, f"{path}.targetPort")
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        errors += [
            invalid(f"{path}.appProtocol", app_protocol, m)
            for m in syntax.is_qualified_name(app_protocol)
        ]
    return errors


def _validate_session_affinity(spec: Object) -> list[FieldError]:
    affinity = spec.get("sessionAffinity", "None")
    config = spec.get("sessionAffinityConfig")
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in ("ClientIP", "None"):
        return [not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))]
    if affinity == "None":
        if config is None:
            return []
        return [
            forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        ]
    timeout = ((config or {}).get("clientIP") or {}).get("timeoutSeconds", 10800)
    if not 0 < timeout <= _MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [
            invalid(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                timeout,
                f"must be greater than 0 and less than {_MAX_CLIENT_IP_AFFINITY_SECONDS}",
            )
        ]
    return []


def _validate_cluster_ips(spec: Object) -> list[FieldError]:
    """upstream ValidateServiceClusterIPsRelatedFields."""
    ips = cluster_ips(spec)
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, family in enumerate(spec.get("ipFamilies") or []):
        here = f"spec.ipFamilies[{index}]"
        if family not in ("IPv4", "IPv6"):
            errors.append(not_supported(here, family, ("IPv4", "IPv6")))
        if family in seen:
            errors.append(duplicate(here, family))
        seen.add(family)
    policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in policies:
        errors.append(not_supported("spec.ipFamilyPolicy", policy, policies))
    bad_ip = False
    for index, ip in enumerate(ips):
        if index == 0 and ip == "None":
            if len(ips) > 1:
                bad_ip = True
                errors.append(
                    invalid_go(
                        "spec.clusterIPs",
                        go_string_slice(ips),
                        "'None' must be the first and only value",
                    )
                )
            continue
        problems = syntax.is_valid_ip(f"spec.clusterIPs[{index}]", ip)
        bad_ip = bad_ip or bool(problems)
        errors += problems
    if len(ips) > 2:
        errors.append(
            invalid_go("spec.clusterIPs", go_string_slice(ips), "may only hold up to 2 values")
        )
    if bad_ip:
        return errors
    if len(ips) > 1 and len({ipaddress.ip_address(ip).version for ip in ips}) != len(ips):
        errors.append(
            invalid_go(
                "spec.clusterIPs",
                go_string_slice(ips),
                "may specify no more than one IP for each IP family",
            )
        )
    return errors


def _validate_node_ports(ports: list[Object], kind: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str, int]] = set()
    for index, port in enumerate(ports):
        node_port = port.get("nodePort") or 0
        if not node_port:
            continue
        here = f"spec.ports[{index}].nodePort"
        if kind == "ClusterIP":
            errors.append(forbidden(here, "may not be used when `type` is 'ClusterIP'"))
        key = (port.get("protocol", "TCP"), node_port)
        if key in seen:
            errors.append(duplicate(here, node_port))
        seen.add(key)
    return errors


def _validate_duplicate_ports(ports: list[Object]) -> list[FieldError]:
    """A (protocol, port) pair once; upstream prints the pair as a ServicePort struct."""
    errors: list[FieldError] = []
    seen: set[tuple[str, int]] = set()
    for index, port in enumerate(ports):
        key = (port.get("protocol", "TCP"), port.get("port") or 0)
        if key in seen:
            literal = go_struct(
                "core.ServicePort",
                (
                    ("Name", '""'),
                    ("Protocol", go_quote(key[0])),
                    ("AppProtocol", "(*string)(nil)"),
                    ("Port", str(key[1])),
                    ("TargetPort", go_int_or_string(0)),
                    ("NodePort", "0"),
                ),
            )
            errors.append(duplicate_go(f"spec.ports[{index}]", literal))
        seen.add(key)
    return errors


def _validate_load_balancer_fields(spec: Object, kind: str) -> list[FieldError]:
    errors: list[FieldError] = []
    ranges = spec.get("loadBalancerSourceRanges") or []
    if ranges:
        if kind != "LoadBalancer":
            errors.append(
                forbidden(
                    "spec.LoadBalancerSourceRanges",
                    "may only be used when `type` is 'LoadBalancer'",
                )
            )
        for index, value in enumerate(ranges):
            errors += syntax.is_valid_cidr(f"spec.LoadBalancerSourceRanges[{index}]", value.strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errors.append(
            forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    return errors


def _validate_traffic_policies(spec: Object, kind: str) -> list[FieldError]:
    errors: list[FieldError] = []
    external = spec.get("externalTrafficPolicy")
    accessible = kind in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if not accessible and external:
        errors.append(
            invalid(
                "spec.externalTrafficPolicy",
                external,
                "may only be set for externally-accessible services",
            )
        )
    elif accessible and external is not None and external not in ("Cluster", "Local"):
        errors.append(not_supported("spec.externalTrafficPolicy", external, ("Cluster", "Local")))
    health = spec.get("healthCheckNodePort") or 0
    needs_health = kind == "LoadBalancer" and external == "Local"
    if health and not needs_health:
        errors.append(
            invalid(
                "spec.healthCheckNodePort",
                health,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                "'Local'",
            )
        )
    internal = spec.get("internalTrafficPolicy")
    if internal is not None and internal not in ("Cluster", "Local"):
        errors.append(not_supported("spec.internalTrafficPolicy", internal, ("Cluster", "Local")))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        errors.append(not_supported("spec.trafficDistribution", distribution, ("PreferClose",)))
    return errors


def validate_service_update(new: Object, old: Object) -> list[FieldError]:
    """Allocated cluster IPs stay, unless the service moves to or from ExternalName."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (new_spec.get("type", "ClusterIP"), old_spec.get("type", "ClusterIP")):
        return validate_service(new)
    old_ips = cluster_ips(old_spec)
    new_ips = cluster_ips(new_spec) or old_ips
    errors: list[FieldError] = []
    if not (is_headless(old_spec) and new_ips == ["None"]):
        if len(new_ips) >= len(old_ips):
            errors += [
                invalid_go(
                    f"spec.clusterIPs[{index}]", go_string_slice(new_ips), "may not change once set"
                )
                for index, ip in enumerate(old_ips)
                if new_ips[index] != ip and (len(new_ips) == len(old_ips) or index == 0)
            ]
        elif new_ips[0] != old_ips[0]:
            errors.append(
                invalid_go(
                    "spec.clusterIPs[0]", go_string_slice(new_ips), "may not change once set"
                )
            )
    patched = {**new, "spec": {**new_spec, "clusterIPs": new_ips}} if new_ips else new
    return errors + validate_service(patched)


def validate_non_special_ip(address: str, path: str) -> list[FieldError]:
    """No unspecified, loopback or link-local addresses (Endpoints, EndpointSlices, externalIPs)."""
    ip = syntax.parse_ip_sloppy(address)
    if ip is None:
        return [invalid(path, address, "must be a valid IP address")]
    errors: list[FieldError] = []
    if ip.is_unspecified:
        errors.append(invalid(path, address, f"may not be unspecified ({address})"))
    if ip.is_loopback:
        errors.append(
            invalid(path, address, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
        )
    if ip.is_link_local and not ip.is_multicast:
        errors.append(
            invalid(path, address, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    if _is_link_local_multicast(ip):
        errors.append(
            invalid(
                path,
                address,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return errors


def _is_link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 4:
        return ip in ipaddress.ip_network("224.0.0.0/24")
    return ip in ipaddress.ip_network("ff02::/16")


def validate_endpoint_slice(slice_: Object) -> list[FieldError]:
    """The address type, each endpoint's addresses, and the ports."""
    address_type = slice_.get("addressType") or ""
    errors: list[FieldError] = []
    if not address_type:
        errors.append(required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        errors.append(not_supported("addressType", address_type, _ADDRESS_TYPES))
    for index, endpoint in enumerate(slice_.get("endpoints") or []):
        errors += _validate_endpoint(endpoint, address_type, f"endpoints[{index}]")
    names: set[str] = set()
    for index, port in enumerate(slice_.get("ports") or []):
        here = f"ports[{index}]"
        name = port.get("name") or ""
        if name:
            errors += [invalid(f"{here}.name", name, m) for m in syntax.is_dns1123_label(name)]
        if name in names:
            errors.append(duplicate(f"{here}.name", name))
        names.add(name)
        protocol = port.get("protocol", "TCP")
        if protocol not in PORT_PROTOCOLS:
            errors.append(not_supported(f"{here}.protocol", protocol, PORT_PROTOCOLS))
        number = port.get("port")
        if number is not None:
            errors += [invalid(f"{here}.port", number, m) for m in syntax.is_valid_port_num(number)]
    return errors


def _validate_endpoint(endpoint: Object, address_type: str, path: str) -> list[FieldError]:
    addresses = endpoint.get("addresses") or []
    here = f"{path}.addresses"
    if not addresses:
        return [required(here, "must contain at least 1 address")]
    if len(addresses) > _MAX_ADDRESSES:
        return [invalid(here, len(addresses), f"must have at most {_MAX_ADDRESSES} items")]
    errors: list[FieldError] = []
    for index, address in enumerate(addresses):
        at = f"{here}[{index}]"
        if address_type == "IPv4":
            errors += syntax.is_valid_ipv4_address(at, address) or validate_non_special_ip(
                address, at
            )
        elif address_type == "IPv6":
            errors += syntax.is_valid_ipv6_address(at, address) or validate_non_special_ip(
                address, at
            )
        elif address_type == "FQDN":
            errors += syntax.is_fully_qualified_domain_name(at, address)
    hostname = endpoint.get("hostname")
    if hostname is not None:
        errors += [
            invalid(f"{path}.hostname", hostname, m) for m in syntax.is_dns1123_label(hostname)
        ]
    return errors


def validate_endpoint_slice_update(new: Object, old: Object) -> list[FieldError]:
    errors = validate_endpoint_slice(new)
    if (new.get("addressType") or "") != (old.get("addressType") or ""):
        errors.append(invalid("addressType", new.get("addressType") or "", IMMUTABLE))
    return errors
