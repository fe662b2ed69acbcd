"""The upstream Kubernetes schema, as data, and how to walk it.

The definitions come from the PyPI package ``kubernetes-validate``, which
ships upstream's OpenAPI definitions converted to JSON Schema with the
``x-kubernetes-*`` extensions kept: patch strategies and merge keys, list
types, group-version-kinds. Validation, strategic merge patch, OpenAPI and
``kubectl explain`` all read this one source.

A schema node is a plain dict. ``$ref`` nodes are resolved on the way down;
properties that may be null are written ``"type": ["string", "null"]``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

#: The Kubernetes release whose API pynetes serves.
KUBERNETES_VERSION = "1.31.0"
_DEFINITIONS = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local/_definitions.json"
_REF_PREFIX = "#/$defs/"

Node = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Node]:
    """Every upstream definition by name, e.g. ``io.k8s.api.core.v1.Pod``."""
    data = resources.files("kubernetes_validate").joinpath(_DEFINITIONS).read_bytes()
    return orjson.loads(data)["$defs"]


@functools.cache
def _definitions_by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, node in definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind", []):
            index[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition that describes a kind, or None if upstream has none."""
    return _definitions_by_gvk().get((group, version, kind))


def definition(name: str) -> Node:
    return definitions()[name]


def resolve(node: Node) -> Node:
    """The node itself, or the definition its ``$ref`` points to."""
    reference = node.get("$ref")
    if not isinstance(reference, str):
        return node
    return definitions()[reference.removeprefix(_REF_PREFIX)]


def ref_name(node: Node) -> str | None:
    """The definition name a ``$ref`` node points to."""
    reference = node.get("$ref")
    return reference.removeprefix(_REF_PREFIX) if isinstance(reference, str) else None


def types(node: Node) -> set[str]:
    """The JSON types a node allows (without "null"); empty when any type goes."""
    declared = resolve(node).get("type")
    if declared is None:
        return set()
    if isinstance(declared, str):
        return {declared}
    return {kind for kind in declared if kind != "null"}


def field(node: Node | None, name: str) -> Node | None:
    """The schema of ``node``'s field ``name``: a property, or a map's values."""
    if node is None:
        return None
    node = resolve(node)
    properties = node.get("properties")
    if properties is not None and name in properties:
        return properties[name]
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    return None


def items(node: Node | None) -> Node | None:
    """The schema of a list's items."""
    if node is None:
        return None
    found = resolve(node).get("items")
    return found if isinstance(found, dict) else None


def patch_strategies(node: Node | None) -> set[str]:
    """``x-kubernetes-patch-strategy`` split: e.g. {"merge", "retainKeys"}."""
    if node is None:
        return set()
    strategy = node.get("x-kubernetes-patch-strategy") or resolve(node).get(
        "x-kubernetes-patch-strategy", ""
    )
    return {part for part in strategy.split(",") if part}


def patch_merge_key(node: Node | None) -> str | None:
    if node is None:
        return None
    return node.get("x-kubernetes-patch-merge-key") or resolve(node).get(
        "x-kubernetes-patch-merge-key"
    )


def list_type(node: Node | None) -> str | None:
    """``x-kubernetes-list-type``: atomic, set or map (None when not declared)."""
    if node is None:
        return None
    return node.get("x-kubernetes-list-type") or resolve(node).get("x-kubernetes-list-type")


def list_map_keys(node: Node | None) -> list[str]:
    if node is None:
        return []
    return node.get("x-kubernetes-list-map-keys") or resolve(node).get(
        "x-kubernetes-list-map-keys", []
    )


def map_type(node: Node | None) -> str | None:
    """``x-kubernetes-map-type``: atomic or granular."""
    if node is None:
        return None
    return node.get("x-kubernetes-map-type") or resolve(node).get("x-kubernetes-map-type")
