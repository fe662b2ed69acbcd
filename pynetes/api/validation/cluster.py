"""Namespaces, Nodes, ConfigMaps, Secrets, Leases, PriorityClasses and PodDisruptionBudgets.

The per-kind rules beyond metadata, after upstream's core, coordination,
scheduling and policy validation packages.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from pynetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from pynetes.api.gofmt import go_quote, go_string_slice
from pynetes.api.quantity import QuantityError, parse_json_quantity
from pynetes.api.validation import syntax
from pynetes.api.validation.containers import validate_resource_quantity_value
from pynetes.api.validation.govalues import duplicate_go, go_int_or_string, go_struct, invalid_go
from pynetes.api.validation.metadata import (
    NEGATIVE,
    validate_finalizers,
    validate_label_name,
    validate_label_selector,
)
from pynetes.api.validation.pods import validate_preemption_policy, validate_taint_effect

Object = Mapping[str, Any]

MAX_DATA_SIZE = 1024 * 1024
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
#: The built-in PriorityClasses: name -> value.
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}
HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000
_DOCKER_CONFIG_KEYS = {
    "kubernetes.io/dockercfg": ".dockercfg",
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
}
_REDACTED = "<secret contents redacted>"


def validate_namespace_spec(namespace: Object) -> list[FieldError]:
    """``spec.finalizers`` are qualified names, or the standard ``kubernetes``."""
    path = "spec.finalizers"
    errors: list[FieldError] = []
    for name in (namespace.get("spec") or {}).get("finalizers") or []:
        errors += validate_finalizers([name], path)
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            errors.append(
                invalid(
                    path,
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errors


def validate_node(node: Object) -> list[FieldError]:
    """Taints, pod CIDRs and resource quantities (upstream ValidateNode, after metadata)."""
    spec = node.get("spec") or {}
    # upstream reports taints under metadata.taints, a path it has always used.
    errors = _validate_taints(spec.get("taints") or [], "metadata.taints")
    errors += _validate_node_resources(node)
    cidrs = spec.get("podCIDRs") or []
    for index, cidr in enumerate(cidrs):
        errors += syntax.is_valid_cidr(f"spec.podCIDRs[{index}]", cidr)
    if len(cidrs) > 1 and not errors:
        families = [syntax.parse_cidr_sloppy(cidr) for cidr in cidrs]
        if len(cidrs) > 2 or len({network.version for network in families if network}) != 2:
            errors.append(
                invalid_go(
                    "spec.podCIDRs",
                    go_string_slice(cidrs),
                    "may specify no more than one CIDR for each IP family",
                )
            )
        seen: set[str] = set()
        for index, cidr in enumerate(cidrs):
            if cidr in seen:
                errors.append(duplicate(f"spec.podCIDRs[{index}]", cidr))
            seen.add(cidr)
    return errors


def _validate_taints(taints: list[Object], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(taints):
        here = f"{path}[{index}]"
        key, value, effect = (
            taint.get("key") or "",
            taint.get("value") or "",
            taint.get("effect") or "",
        )
        errors += validate_label_name(key, f"{here}.key")
        messages = syntax.is_valid_label_value(value)
        if messages:
            errors.append(invalid(f"{here}.value", value, ";".join(messages)))
        errors += validate_taint_effect(effect, f"{here}.effect")
        if (key, effect) in seen:
            literal = go_struct(
                "core.Taint",
                (
                    ("Key", go_quote(key)),
                    ("Value", go_quote(value)),
                    ("Effect", go_quote(effect)),
                    ("TimeAdded", "(*v1.Time)(nil)"),
                ),
            )
            errors.append(
                duplicate_go(here, literal, "taints must be unique by key and effect pair")
            )
            continue
        seen.add((key, effect))
    return errors


def _validate_node_resources(node: Object) -> list[FieldError]:
    errors: list[FieldError] = []
    status = node.get("status") or {}
    for section in ("capacity", "allocatable"):
        for name, value in (status.get(section) or {}).items():
            here = f"status.{section}.{name}"
            try:
                errors += validate_resource_quantity_value(name, parse_json_quantity(value), here)
            except QuantityError as error:
                errors.append(invalid(here, value, str(error)))
    return errors


def validate_node_update(new: Object, old: Object) -> list[FieldError]:
    """podCIDRs and providerID may only go from unset to set."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errors = _validate_taints(new_spec.get("taints") or [], "metadata.taints")
    errors += _validate_node_resources(new)
    old_cidrs, new_cidrs = old_spec.get("podCIDRs") or [], new_spec.get("podCIDRs") or []
    message = 'node updates may not change podCIDR except from "" to valid'
    if old_cidrs:
        if len(old_cidrs) != len(new_cidrs):
            errors.append(forbidden("spec.podCIDRs", message))
        else:
            errors += [
                forbidden("spec.podCIDRs", message)
                for before, after in zip(old_cidrs, new_cidrs, strict=True)
                if before != after
            ]
    old_provider = old_spec.get("providerID") or ""
    if old_provider and old_provider != (new_spec.get("providerID") or ""):
        errors.append(
            forbidden(
                "spec.providerID", 'node updates may not change providerID except from "" to valid'
            )
        )
    if (new_spec.get("externalID") or "") != (old_spec.get("externalID") or ""):
        errors.append(forbidden("spec.externalID", "may not be updated"))
    return errors


def validate_config_map(config_map: Object) -> list[FieldError]:
    """Keys are config keys, not in both data and binaryData; everything fits in 1 MiB."""
    data = config_map.get("data") or {}
    binary = config_map.get("binaryData") or {}
    errors: list[FieldError] = []
    total = 0
    for key, value in data.items():
        errors += [invalid(f"data[{key}]", key, m) for m in syntax.is_config_map_key(key)]
        if key in binary:
            errors.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += syntax.byte_length(value or "")
    for key, value in binary.items():
        errors += [invalid(f"binaryData[{key}]", key, m) for m in syntax.is_config_map_key(key)]
        total += len(_decoded(value))
    if total > MAX_DATA_SIZE:
        errors.append(too_long("", MAX_DATA_SIZE))
    return errors


def validate_config_map_update(new: Object, old: Object) -> list[FieldError]:
    errors = _immutable_data(new, old, ("data", "binaryData"))
    return errors + validate_config_map(new)


def _immutable_data(new: Object, old: Object, keys: tuple[str, ...]) -> list[FieldError]:
    """Once ``immutable: true``, it stays, and so does the data."""
    if not old.get("immutable"):
        return []
    errors = [] if new.get("immutable") else [forbidden("immutable", _IMMUTABLE_WHEN_SET)]
    return errors + [
        forbidden(key, _IMMUTABLE_WHEN_SET)
        for key in keys
        if (new.get(key) or {}) != (old.get(key) or {})
    ]


def _decoded(value: Any) -> bytes:
    """A []byte field's bytes: JSON carries them base64-encoded."""
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        return str(value).encode()


def validate_secret(secret: Object) -> list[FieldError]:
    """Keys, the 1 MiB limit, and what each well-known type requires."""
    data = {**(secret.get("data") or {})}
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    errors: list[FieldError] = []
    total = 0
    for key, value in data.items():
        errors += [invalid(f"data[{key}]", key, m) for m in syntax.is_config_map_key(key)]
        total += len(_decoded(value))
    if total > MAX_DATA_SIZE:
        errors.append(too_long("data", MAX_DATA_SIZE))
    return errors + _validate_secret_type(secret, data)


def _validate_secret_type(secret: Object, data: Mapping[str, Any]) -> list[FieldError]:
    kind = secret.get("type") or "Opaque"
    if kind == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            return [required("metadata.annotations[kubernetes.io/service-account.name]")]
    elif kind in _DOCKER_CONFIG_KEYS:
        key = _DOCKER_CONFIG_KEYS[kind]
        if key not in data:
            return [required(f"data[{key}]")]
        problem = _json_object_error(_decoded(data[key]))
        if problem is not None:
            return [invalid(f"data[{key}]", _REDACTED, problem)]
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            return [required("data[username]"), required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if not _decoded(data.get("ssh-privatekey")):
            return [required("data[ssh-privatekey]")]
    elif kind == "kubernetes.io/tls":
        return [required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data]
    return []


def _json_object_error(raw: bytes) -> str | None:
    """Go's json.Unmarshal into a map: its usual errors for empty or non-object input."""
    if not raw.strip():
        return "unexpected end of JSON input"
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return f"invalid JSON: {error}"
    if not isinstance(parsed, dict):
        kind = _go_json_type(parsed)
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None


def _go_json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number" if value is not None else "null"


def validate_secret_update(new: Object, old: Object) -> list[FieldError]:
    errors: list[FieldError] = []
    new_type, old_type = new.get("type") or "Opaque", old.get("type") or "Opaque"
    if new_type != old_type:
        errors.append(invalid("type", new_type, "field is immutable"))
    errors += _immutable_data(new, old, ("data",))
    return errors + validate_secret(new)


def validate_lease(lease: Object) -> list[FieldError]:
    spec = lease.get("spec") or {}
    errors: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errors.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errors.append(invalid("spec.leaseTransitions", transitions, NEGATIVE))
    return errors


def validate_priority_class(priority_class: Object) -> list[FieldError]:
    """``system-`` names are reserved; user values at most one billion."""
    name = (priority_class.get("metadata") or {}).get("name") or ""
    value = priority_class.get("value") or 0
    errors: list[FieldError] = []
    if name.startswith("system-"):
        problem = _system_priority_class_error(
            name, value, bool(priority_class.get("globalDefault"))
        )
        if problem is not None:
            errors.append(
                forbidden(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved for system use only. "
                    f"error: {problem}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errors.append(
            forbidden(
                "value",
                "maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = priority_class.get("preemptionPolicy")
    if policy is not None:
        errors += validate_preemption_policy(policy, "preemptionPolicy")
    return errors


def _system_priority_class_error(name: str, value: int, global_default: bool) -> str | None:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class_update(new: Object, old: Object) -> list[FieldError]:
    errors: list[FieldError] = []
    if (new.get("value") or 0) != (old.get("value") or 0):
        errors.append(forbidden("value", "may not be changed in an update."))
    policy_new = new.get("preemptionPolicy", "PreemptLowerPriority")
    policy_old = old.get("preemptionPolicy", "PreemptLowerPriority")
    if policy_new != policy_old:
        errors.append(invalid("preemptionPolicy", policy_new, "field is immutable"))
    return errors


def validate_pod_disruption_budget(pdb: Object) -> list[FieldError]:
    """minAvailable xor maxUnavailable, each an int or a percent up to 100%."""
    spec = pdb.get("spec") or {}
    errors: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.append(
            invalid_go(
                "spec", _go_pdb_spec(spec), "minAvailable and maxUnavailable cannot be both set"
            )
        )
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if value is None:
            continue
        here = f"spec.{key}"
        if isinstance(value, str):
            errors += [
                invalid_go(here, go_int_or_string(value), m) for m in syntax.is_valid_percent(value)
            ]
            if not syntax.is_valid_percent(value) and int(value[:-1]) > 100:
                errors.append(
                    invalid_go(here, go_int_or_string(value), "must not be greater than 100%")
                )
        elif value < 0:
            errors.append(invalid(here, value, NEGATIVE))
    errors += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    supported = ("AlwaysAllow", "IfHealthyBudget")
    if policy is not None and policy not in supported:
        errors.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, supported))
    return errors


def _go_pdb_spec(spec: Object) -> str:
    """The spec struct as %#v prints it; its pointers' addresses cannot be reproduced."""

    def pointer(type_name: str, key: str) -> str:
        address = "nil" if spec.get(key) is None else "0xc000000000"
        return f"(*{type_name})({address})"

    return go_struct(
        "policy.PodDisruptionBudgetSpec",
        (
            ("MinAvailable", pointer("intstr.IntOrString", "minAvailable")),
            ("Selector", pointer("v1.LabelSelector", "selector")),
            ("MaxUnavailable", pointer("intstr.IntOrString", "maxUnavailable")),
            (
                "UnhealthyPodEvictionPolicy",
                pointer("policy.UnhealthyPodEvictionPolicyType", "unhealthyPodEvictionPolicy"),
            ),
        ),
    )
