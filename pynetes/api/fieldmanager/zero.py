"""The empty object a create is compared against.

Upstream compares a created object with a new, empty Go object of its
kind. For a built-in kind that object is not ``{}``: struct fields are
always there (``spec``, ``status``, ``spec.template``...) and fields
without ``omitempty`` are there as zero values. It shows in FieldsV1: a
creator owns ``f:spec`` without ``".": {}`` (spec existed) but
``f:labels`` with it (labels did not). Custom resources start from ``{}``.

The schema does not say which fields are Go structs or lack ``omitempty``;
the required fields and the conventional embedded structs stand for them.
"""

from __future__ import annotations

from typing import Any, Final

from pynetes.api import schema
from pynetes.api.schema import Node

_EMBEDDED_STRUCTS: Final = frozenset(
    {"metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate"}
)
_ZERO_SCALARS: Final = {"string": "", "integer": 0, "number": 0, "boolean": False}


def zero_object(node: Node | None) -> dict[str, Any]:
    """The empty object of the kind ``node`` describes (``{}`` unless built in).

    Shared and built once per kind (it cost 4% of a create): read only.
    """
    if node is None or "x-kubernetes-group-version-kind" not in schema.resolve(node):
        return {}
    cached = _ZEROS.get(id(node))
    if cached is not None and cached[0] is node:
        return cached[1]
    zero = _zero_struct(node)
    if len(_ZEROS) >= _ZEROS_LIMIT:
        _ZEROS.clear()
    _ZEROS[id(node)] = (node, zero)
    return zero


# Zero objects by the id of their kind's node; an entry keeps that node alive,
# so an id is never mistaken for another node's while its entry exists.
_ZEROS: dict[int, tuple[Node, dict[str, Any]]] = {}
_ZEROS_LIMIT: Final = 1024


def _is_struct(node: Node) -> bool:
    return bool(schema.resolve(node).get("properties"))


def _zero_struct(node: Node) -> dict[str, Any]:
    resolved = schema.resolve(node)
    required = set(resolved.get("required", ()))
    zero: dict[str, Any] = {}
    for name, field in resolved.get("properties", {}).items():
        if _is_struct(field) and (name in required or name in _EMBEDDED_STRUCTS):
            zero[name] = _zero_struct(field)
        elif name in required:
            zero[name] = _zero_scalar(field)
    return zero


def _zero_scalar(node: Node) -> Any:
    """A required non-struct field: its Go zero value, null for slices, maps and times."""
    if schema.resolve(node).get("format") == "date-time":
        return None
    for kind in sorted(schema.types(node)):
        if kind in _ZERO_SCALARS:
            return _ZERO_SCALARS[kind]
    return None
