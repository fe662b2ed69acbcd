"""Ingresses, IngressClasses and NetworkPolicies (networking.k8s.io/v1), after
upstream's pkg/apis/networking/validation, in its words.

pynetes stores and serves them for ingress controllers, network plugins and
the charts that create them; it runs no ingress controller and enforces no
network policy itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pynetes.api.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from pynetes.api.gofmt import go_quote
from pynetes.api.validation import syntax
from pynetes.api.validation.govalues import invalid_go
from pynetes.api.validation.metadata import immutable, validate_label_selector

Object = Mapping[str, Any]

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_PARAMETER_SCOPES = ("Cluster", "Namespace")
_MAX_CONTROLLER_LENGTH = 250
_HTTP_PATH_FORMAT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_HTTP_PATH = re.compile(_HTTP_PATH_FORMAT)
_INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_POLICY_TYPES = ("Ingress", "Egress")


# -- Ingress -------------------------------------------------------------------------


def validate_ingress(ingress: Object) -> list[FieldError]:
    """Create: the spec, and no class annotation beside ``spec.ingressClassName``."""
    errors = validate_ingress_spec(ingress)
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    spec = ingress.get("spec") or {}
    if _INGRESS_CLASS_ANNOTATION in annotations and spec.get("ingressClassName") is not None:
        errors.append(
            invalid(
                f"annotations.{_INGRESS_CLASS_ANNOTATION}",
                annotations[_INGRESS_CLASS_ANNOTATION],
                "can not be set when the class field is also set",
            )
        )
    return errors


def validate_ingress_spec(ingress: Object) -> list[FieldError]:
    spec = ingress.get("spec") or {}
    errors: list[FieldError] = []
    rules = spec.get("rules") or []
    backend = spec.get("defaultBackend")
    if not rules and backend is None:
        literal = (
            "[]networking.IngressRule{}" if "rules" in spec else "[]networking.IngressRule(nil)"
        )
        errors.append(
            invalid_go("spec", literal, "either `defaultBackend` or `rules` must be specified")
        )
    if backend is not None:
        errors += _backend(backend, "spec.defaultBackend")
    for index, rule in enumerate(rules):
        errors += _rule(rule, f"spec.rules[{index}]")
    for index, tls in enumerate(spec.get("tls") or []):
        errors += _tls(tls, f"spec.tls[{index}]")
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errors += [
            invalid("spec.ingressClassName", class_name, message)
            for message in syntax.is_dns1123_subdomain(class_name)
        ]
    return errors


def _host(host: str) -> list[str]:
    """A host's messages: a wildcard subdomain (``*.example.com``) or a plain one."""
    if "*" in host:
        return syntax.is_wildcard_dns1123_subdomain(host)
    return syntax.is_dns1123_subdomain(host)


def _rule(rule: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    host = rule.get("host") or ""
    if host:
        if syntax.parse_ip_sloppy(host) is not None:
            errors.append(invalid(f"{path}.host", host, "must be a DNS name, not an IP address"))
        errors += [invalid(f"{path}.host", host, message) for message in _host(host)]
    http = rule.get("http")
    if http is not None:
        paths = http.get("paths") or []
        if not paths:
            errors.append(required(f"{path}.http.paths"))
        for index, entry in enumerate(paths):
            errors += _http_path(entry, f"{path}.http.paths[{index}]")
    return errors


def _http_path(entry: Object, path: str) -> list[FieldError]:
    path_type = entry.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    value = entry.get("path") or ""
    errors: list[FieldError] = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errors.append(invalid(f"{path}.path", value, "must be an absolute path"))
        errors += [
            invalid(f"{path}.path", value, f"must not contain '{sequence}'")
            for sequence in _INVALID_PATH_SEQUENCES
            if sequence in value
        ]
        errors += [
            invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
            for suffix in _INVALID_PATH_SUFFIXES
            if value.endswith(suffix)
        ]
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errors.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errors.append(not_supported(f"{path}.pathType", path_type, _PATH_TYPES))
    return errors + _backend(entry.get("backend") or {}, f"{path}.backend")


def _backend(backend: Object, path: str) -> list[FieldError]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errors: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        errors.append(required(f"{path}.service.name"))
    else:
        errors += [
            invalid(f"{path}.service.name", name, message)
            for message in syntax.is_dns1035_label(name)
        ]
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        errors.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errors += [
            invalid(f"{path}.service.port.name", port_name, message)
            for message in syntax.is_valid_port_name(port_name)
        ]
    elif number:
        errors += [
            invalid(f"{path}.service.port.number", number, message)
            for message in syntax.is_valid_port_num(number)
        ]
    else:
        errors.append(required(path, "port name or number is required"))
    return errors


def _typed_reference(reference: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    group = reference.get("apiGroup")
    if group is not None:
        errors += [
            invalid(f"{path}.apiGroup", group, message)
            for message in syntax.is_dns1123_subdomain(group)
        ]
    for key in ("kind", "name"):
        value = reference.get(key) or ""
        if not value:
            errors.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errors += [
                invalid(f"{path}.{key}", value, message)
                for message in syntax.is_valid_path_segment_name(value)
            ]
    return errors


def _tls(tls: Object, path: str) -> list[FieldError]:
    errors = [
        invalid(f"{path}.hosts[{index}]", host, message)
        for index, host in enumerate(tls.get("hosts") or [])
        for message in _host(host)
    ]
    secret = tls.get("secretName") or ""
    if secret:
        errors += [
            invalid(f"{path}.secretName", secret, message)
            for message in syntax.is_dns1123_subdomain(secret)
        ]
    return errors


# -- IngressClass --------------------------------------------------------------------


def validate_ingress_class(ingress_class: Object) -> list[FieldError]:
    spec = ingress_class.get("spec") or {}
    controller = spec.get("controller") or ""
    errors: list[FieldError] = []
    if len(controller) > _MAX_CONTROLLER_LENGTH:
        errors.append(too_long("spec.controller", _MAX_CONTROLLER_LENGTH))
    errors += _domain_prefixed_path(controller, "spec.controller")
    parameters = spec.get("parameters")
    if parameters is not None:
        errors += _parameters(parameters, "spec.parameters")
    return errors


def validate_ingress_class_update(new: Object, old: Object) -> list[FieldError]:
    controller = (
        (new.get("spec") or {}).get("controller"),
        (old.get("spec") or {}).get("controller"),
    )
    return immutable(*controller, "spec.controller") + validate_ingress_class(new)


def _domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [required(path)]
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errors = [invalid(path, host, message) for message in syntax.is_dns1123_subdomain(host)]
    if _HTTP_PATH.fullmatch(rest) is None:
        errors.append(invalid(path, rest, syntax.regex_error("Invalid path", _HTTP_PATH_FORMAT)))
    return errors


def _parameters(parameters: Object, path: str) -> list[FieldError]:
    errors = _typed_reference(parameters, path)
    scope = parameters.get("scope")
    namespace = parameters.get("namespace")
    if scope is None:
        return [*errors, required(f"{path}.scope")]
    if scope not in _PARAMETER_SCOPES:
        return [*errors, not_supported(f"{path}.scope", scope, _PARAMETER_SCOPES)]
    if scope == "Namespace":
        if namespace is None:
            errors.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errors += [
                invalid(f"{path}.namespace", namespace, message)
                for message in syntax.is_dns1123_label(namespace)
            ]
    elif namespace is not None:
        errors.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errors


# -- NetworkPolicy -------------------------------------------------------------------


def validate_network_policy(policy: Object) -> list[FieldError]:
    spec = policy.get("spec") or {}
    errors = validate_label_selector(spec.get("podSelector") or {}, "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(spec.get(direction) or []):
            rule_path = f"spec.{direction}[{index}]"
            for number, port in enumerate(rule.get("ports") or []):
                errors += _policy_port(port, f"{rule_path}.ports[{number}]")
            for number, peer in enumerate(rule.get(peers) or []):
                errors += _peer(peer, f"{rule_path}.{peers}[{number}]")
    types = spec.get("policyTypes") or []
    if len(types) > len(_POLICY_TYPES):
        literal = "[]networking.PolicyType{" + ", ".join(go_quote(t) for t in types) + "}"
        detail = "may not specify more than two policyTypes"
        return [*errors, invalid_go("spec.policyTypes", literal, detail)]
    errors += [
        not_supported(f"spec.policyTypes[{index}]", kind, _POLICY_TYPES)
        for index, kind in enumerate(types)
        if kind not in _POLICY_TYPES
    ]
    return errors


def _policy_port(port: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in _PROTOCOLS:
        errors.append(not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            errors.append(
                invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified")
            )
    elif isinstance(number, int):
        errors += [invalid(f"{path}.port", number, m) for m in syntax.is_valid_port_num(number)]
        if end is not None:
            if end < number:
                errors.append(
                    invalid(f"{path}.endPort", number, "must be greater than or equal to `port`")
                )
            errors += [invalid(f"{path}.endPort", end, m) for m in syntax.is_valid_port_num(end)]
    else:
        if end is not None:
            errors.append(
                invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric")
            )
        errors += [invalid(f"{path}.port", number, m) for m in syntax.is_valid_port_name(number)]
    return errors


def _peer(peer: Object, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    peers = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            peers += 1
            errors += validate_label_selector(peer[key], f"{path}.{key}")
    block = peer.get("ipBlock")
    if block is not None:
        peers += 1
        errors += _ip_block(block, f"{path}.ipBlock")
    if peers == 0:
        errors.append(required(path, "must specify a peer"))
    elif peers > 1 and block is not None:
        errors.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errors


def _ip_block(block: Object, path: str) -> list[FieldError]:
    cidr = block.get("cidr") or ""
    if not cidr:
        return [required(f"{path}.cidr")]
    errors = syntax.is_valid_cidr(f"{path}.cidr", cidr)
    network = syntax.parse_cidr_sloppy(cidr)
    if network is None:
        return errors
    for index, text in enumerate(block.get("except") or []):
        except_path = f"{path}.except[{index}]"
        errors += syntax.is_valid_cidr(except_path, text)
        excepted = syntax.parse_cidr_sloppy(text)
        if excepted is None:
            continue
        inside = excepted.version == network.version and excepted.network_address in network
        if not inside or network.prefixlen >= excepted.prefixlen:
            errors.append(invalid(except_path, text, "must be a strict subset of `cidr`"))
    return errors
