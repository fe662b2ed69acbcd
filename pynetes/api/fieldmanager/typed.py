"""How the schema shapes an object for field management.

Upstream converts the OpenAPI schema into structured-merge-diff's type
system; this module answers the same questions straight from a schema node
(``pynetes.api.schema``, or a CRD's OpenAPI v3 node, or None):

- is a value a granular map (owned field by field), an associative list
  (owned item by item), or a leaf (owned as a whole: scalars, atomic maps
  and lists)?
- which path element names a list item?

The conversion rules are upstream's: ``x-kubernetes-list-type`` wins; without
it a patch strategy containing ``merge`` makes a map-list keyed by the patch
merge key (a set when there is no key); other lists are atomic. Maps are
granular unless ``x-kubernetes-map-type: atomic``. Quantity and RawExtension
are scalars. A missing schema (None, or a node without a type) is deduced
from the value: maps granular, lists atomic.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from pynetes.api import schema
from pynetes.api.fieldmanager.fieldset import key_element, path_string, value_element
from pynetes.api.schema import Node


class _Absent:
    """The marker of a field that is not there (JSON null is ``None``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


class Shape(enum.Enum):
    LEAF = "leaf"
    MAP = "map"
    LIST = "list"


class SchemaError(ValueError):
    """An object the field manager cannot walk, worded as upstream words it.

    The path is filled in while the error travels up, so the message reads
    ``.spec.template.spec.containers: element 0: ...``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def within(self, element: str) -> SchemaError:
        """The same error, one path element further from the root."""
        self.path.insert(0, element)
        return self

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{path_string(self.path)}: {self.message}"


_UNTYPED_SCALARS = frozenset(
    {
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
    }
)

# Defaults of list-map key fields that kubernetes-validate's copy of the
# schema dropped (upstream's Go types say ``+default=``); an item that omits
# such a key is named with the default, e.g. k:{"containerPort":80,"protocol":"TCP"}.
_BUILTIN_KEY_DEFAULTS: Final = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}


def _declared_kind(node: Node | None) -> str | None:
    """``object``, ``array`` or ``scalar``; None when the value decides."""
    if node is None:
        return None
    if schema.ref_name(node) in _UNTYPED_SCALARS:
        return "scalar"
    if schema.resolve(node).get("x-kubernetes-int-or-string"):
        return "scalar"
    kinds = schema.types(node)
    if "object" in kinds:
        return "object"
    if "array" in kinds:
        return "array"
    return "scalar" if kinds else None


def list_keys(node: Node | None) -> tuple[str, ...] | None:
    """None for an atomic list, () for a set, the key fields of a map-list."""
    if node is None:
        return None
    declared = schema.list_type(node)
    if declared is not None:
        if declared == "map":
            return tuple(schema.list_map_keys(node))
        return () if declared == "set" else None
    if "merge" in schema.patch_strategies(node):
        key = schema.patch_merge_key(node)
        return (key,) if key else ()
    return None


class TypeInfo:
    """A schema node compiled for walks: how its values are owned, and its fields'
    and items' TypeInfo, each worked out once per node (the walks of a create
    asked the schema the same questions tens of times per object).

    Built by ``type_info``; ``node`` None (no schema) deduces shapes from values.
    """

    __slots__ = ("_fields", "_items", "_other", "atomic_map", "declared", "keys", "node")

    def __init__(self, node: Node | None) -> None:
        self.node = node
        self.declared = _declared_kind(node)
        self.atomic_map = schema.map_type(node) == "atomic"
        self.keys = list_keys(node)
        self._fields: dict[str, TypeInfo] = {}
        self._other: TypeInfo | None = None
        self._items: TypeInfo | None = None

    def shape(self, value: Any) -> Shape:
        """How a value is owned. Null is an empty map or list when the schema says so."""
        declared = self.declared
        if isinstance(value, dict) or (value is None and declared in (None, "object")):
            if declared in (None, "object") and not self.atomic_map:
                return Shape.MAP
            return Shape.LEAF
        is_list = isinstance(value, list) or (value is None and declared == "array")
        if is_list and declared in (None, "array") and self.keys is not None:
            return Shape.LIST
        return Shape.LEAF

    def field(self, name: str) -> TypeInfo:
        """The TypeInfo of field ``name``: a declared property, or a free map's values.

        Properties are remembered by name; every other name shares one entry,
        so a map's arbitrary keys (labels) do not grow the cache.
        """
        found = self._fields.get(name)
        if found is not None:
            return found
        if is_declared(self.node, name):
            found = self._fields[name] = type_info(schema.field(self.node, name))
            return found
        if self._other is None:
            self._other = type_info(schema.field(self.node, name))
        return self._other

    def items(self) -> TypeInfo:
        if self._items is None:
            self._items = type_info(schema.items(self.node))
        return self._items

    def elements(self, items: list[Any]) -> list[str]:
        """The path element of every item of an associative list, in order."""
        return items_by_element(self.node, items)


# Schema nodes are long-lived; entries keep their node alive, so an id is never
# mistaken for another node's while its entry exists.
_INFO: dict[int, tuple[Node, TypeInfo]] = {}
_INFO_LIMIT: Final = 8192
_UNTYPED: Final = TypeInfo(None)


def type_info(node: Node | None) -> TypeInfo:
    """The compiled form of ``node``, built once per node."""
    if node is None:
        return _UNTYPED
    cached = _INFO.get(id(node))
    if cached is not None and cached[0] is node:
        return cached[1]
    info = TypeInfo(node)
    if len(_INFO) >= _INFO_LIMIT:
        _INFO.clear()
    _INFO[id(node)] = (node, info)
    return info


def shape(node: Node | None, value: Any) -> Shape:
    """How a value is owned (``TypeInfo.shape`` of ``node``)."""
    return type_info(node).shape(value)


def pair_shape(info: TypeInfo, left: Any, right: Any) -> Shape:
    """The shape two values are walked in together; differing shapes meet as leaves."""
    if left is ABSENT:
        return info.shape(right)
    if right is ABSENT:
        return info.shape(left)
    left_shape = info.shape(left)
    return left_shape if left_shape is info.shape(right) else Shape.LEAF


def field_node(node: Node | None, name: str) -> Node | None:
    return schema.field(node, name)


def is_declared(node: Node | None, name: str) -> bool:
    """A named property of a struct, as opposed to a key of a free map."""
    return node is not None and name in schema.resolve(node).get("properties", ())


def item_node(node: Node | None) -> Node | None:
    return schema.items(node)


def item_element(node: Node | None, item: Any) -> str:
    """The path element of an associative list item; SchemaError when it has none."""
    keys = type_info(node).keys
    if keys:
        return _keyed_element(node, keys, item)
    if isinstance(item, dict):
        raise SchemaError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise SchemaError("not supported: associative list with lists as elements")
    if item is None:
        raise SchemaError("associative list without keys has an element that's an explicit null")
    return value_element(item)


def _keyed_element(node: Node | None, keys: tuple[str, ...], item: Any) -> str:
    if item is None:
        raise SchemaError("associative list with keys may not have a null element")
    if not isinstance(item, dict):
        raise SchemaError("associative list with keys may not have non-map elements")
    fields: dict[str, Any] = {}
    for key in keys:
        if key in item:
            fields[key] = item[key]
            continue
        default = _key_default(node, key)
        if default is None:
            raise SchemaError(
                f'associative list with keys has an element that omits key field "{key}" '
                "(and doesn't have default value)"
            )
        fields[key] = default
    return key_element(fields)


def _key_default(node: Node | None, key: str) -> Any:
    items = item_node(node)
    declared = schema.resolve(items).get("properties", {}).get(key) if items else None
    if declared is not None and declared.get("default") is not None:
        return declared["default"]
    return _BUILTIN_KEY_DEFAULTS.get((schema.ref_name(items) if items else None, key))


def items_by_element(node: Node | None, items: list[Any]) -> list[str]:
    """The path element of every item of an associative list, in order."""
    elements = []
    for index, item in enumerate(items):
        try:
            elements.append(item_element(node, item))
        except SchemaError as error:
            raise SchemaError(f"element {index}: {error.message}") from None
    return elements


def values_equal(left: Any, right: Any) -> bool:
    """JSON equality as upstream compares values: 1 == 1.0, but true != 1."""
    if left is right:
        return True
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(values_equal(item, right[key]) for key, item in left.items())
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(map(values_equal, left, right))
        )
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float):
        return isinstance(right, int | float) and left == right
    return type(left) is type(right) and left == right


def clone(value: Any) -> Any:
    """A copy sharing no containers with ``value``."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value
