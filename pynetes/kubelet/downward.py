"""The downward API: a pod's own fields and its containers' resources, as text.

Shared by environment variables (``valueFrom.fieldRef``/``resourceFieldRef``)
and ``downwardAPI`` volume files, with upstream's renderings (pkg/fieldpath and
pkg/api/v1/resource): labels and annotations as sorted ``key="value"`` lines,
cpu in whole divisor units rounded up from millicores, memory and
ephemeral-storage in whole divisor units rounded up. A resource limit the
container does not set reads as the node's allocatable amount, as upstream's
kubelet defaults it. Errors are :class:`DownwardApiError` with upstream's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.gofmt import go_quote
from pynetes.api.quantity import Quantity, parse_json_quantity

Object = dict[str, Any]

#: The resources whose unset limit reads as the node's allocatable amount.
DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")


class DownwardApiError(ValueError):
    """A field or resource the downward API cannot render; the message is upstream's."""


def format_map(values: Mapping[str, str] | None) -> str:
    """upstream FormatMap: ``key="value"`` lines (Go ``%q``), sorted by key."""
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values or {}))


def _split_subscript(field_path: str) -> tuple[str, str] | None:
    """``metadata.labels['app']`` -> (``metadata.labels``, ``app``); None without one."""
    if not field_path.endswith("']"):
        return None
    path, sep, subscript = field_path[:-2].partition("['")
    if not sep or not path:
        return None
    return path, subscript


def metadata_field(pod: Object, field_path: str) -> str:
    """upstream ExtractFieldPathAsString: the metadata fields both consumers support."""
    metadata = pod.get("metadata") or {}
    split = _split_subscript(field_path)
    if split is not None:
        path, subscript = split
        if path in ("metadata.annotations", "metadata.labels"):
            return (metadata.get(path.removeprefix("metadata.")) or {}).get(subscript, "")
        raise DownwardApiError(f"fieldPath {go_quote(field_path)} does not support subscript")
    match field_path:
        case "metadata.annotations" | "metadata.labels":
            return format_map(metadata.get(field_path.removeprefix("metadata.")))
        case "metadata.name" | "metadata.namespace" | "metadata.uid":
            return metadata.get(field_path.removeprefix("metadata."), "")
    raise DownwardApiError(f"unsupported fieldPath: {field_path}")


def find_container(pod: Object, name: str) -> Object:
    """The container (or init container) of that name; upstream's error when none."""
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if container.get("name") == name:
            return container
    raise DownwardApiError(f"container {name} not found")


def with_default_limits(container: Object, node_allocatable: Mapping[str, Any]) -> Object:
    """The container with unset cpu/memory/ephemeral-storage limits set to allocatable."""
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    for name in DEFAULTED_LIMITS:
        if name not in limits and name in node_allocatable:
            limits[name] = node_allocatable[name]
    return {**container, "resources": {**resources, "limits": limits}}


def resource_value(selector: Object, container: Object) -> str:
    """upstream ExtractContainerResourceValue for ``container`` (limits already defaulted)."""
    divisor = parse_json_quantity(selector.get("divisor"))
    if divisor.amount == 0:
        divisor = parse_json_quantity("1")
    kind, _, name = (selector.get("resource") or "").partition(".")
    if kind in ("limits", "requests") and name in DEFAULTED_LIMITS:
        amount = parse_json_quantity(((container.get("resources") or {}).get(kind) or {}).get(name))
        return str(_in_divisor_units(amount, divisor, milli=name == "cpu"))
    raise DownwardApiError(f"unsupported container resource : {selector.get('resource')}")


def _in_divisor_units(amount: Quantity, divisor: Quantity, *, milli: bool) -> int:
    """ceil(amount / divisor), on milli-values for cpu and values otherwise, as upstream."""
    if milli:
        numerator, denominator = amount.milli_value(), divisor.milli_value()
    else:
        numerator, denominator = amount.value(), divisor.value()
    return -(-numerator // denominator)


def container_resource(
    selector: Object, pod: Object, container: Object | None, node_allocatable: Mapping[str, Any]
) -> str:
    """A resourceFieldRef's value: of ``selector.containerName``, else of ``container``.

    Volumes pass ``container=None`` (their selectors must name a container).
    """
    name = selector.get("containerName")
    if name or container is None:
        container = find_container(pod, name or "")
    return resource_value(selector, with_default_limits(container, node_allocatable))
