"""The field set of an object: which paths it sets (upstream's ``ToFieldSet``).

This is what an applier owns after an apply. The rules decide where
FieldsV1 writes ``".": {}``: a list item is always owned itself; a map entry
is owned itself when it is a leaf, null, an empty map, or a key of a free
map (labels, or a CRD's free-form object) rather than a named field.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pynetes.api import schema
from pynetes.api.fieldmanager.fieldset import FieldSet, element_string, field_element
from pynetes.api.fieldmanager.typed import (
    SchemaError,
    Shape,
    field_node,
    is_declared,
    item_node,
    items_by_element,
    shape,
)
from pynetes.api.schema import Node


def to_field_set(value: Any, node: Node | None, *, allow_duplicates: bool = True) -> FieldSet:
    """The fields ``value`` sets. SchemaError for items with no name or, unless
    allowed (as for stored objects), with a duplicate name."""
    below = _fields_below(value, node, allow_duplicates)
    return FieldSet() if below is None else below


def _fields_below(value: Any, node: Node | None, allow_duplicates: bool) -> FieldSet | None:
    """The fields under ``value``; None when the value is a leaf, owned whole."""
    value_shape = shape(node, value)
    if value_shape is Shape.MAP:
        return _map_fields(value, node, allow_duplicates) if value else FieldSet()
    if value_shape is Shape.LIST:
        return _list_fields(value, node, allow_duplicates) if value else FieldSet()
    return None


def _map_fields(value: dict[str, Any], node: Node | None, allow_duplicates: bool) -> FieldSet:
    found = FieldSet()
    for name, child in value.items():
        element = field_element(name)
        try:
            below = _fields_below(child, field_node(node, name), allow_duplicates)
        except SchemaError as error:
            raise error.within(element) from None
        if below is not None and (below.members or below.children):
            found.children[element] = below
        if below is None or child is None or child == {} or not is_declared(node, name):
            found.members.add(element)
    return found


def _list_fields(value: list[Any], node: Node | None, allow_duplicates: bool) -> FieldSet:
    elements = items_by_element(node, value)
    if not allow_duplicates and (repeat := _first_repeat(elements)) is not None:
        raise SchemaError(f"duplicate entries for key {element_string(repeat)}")
    duplicated = {element for element, count in Counter(elements).items() if count > 1}
    found = FieldSet()
    child_node = item_node(node)
    for item, element in zip(value, elements, strict=True):
        found.members.add(element)
        if element in duplicated:
            continue
        try:
            below = _fields_below(item, child_node, allow_duplicates)
        except SchemaError as error:
            raise error.within(element) from None
        if below is not None and (below.members or below.children):
            found.children[element] = below
    return found


def ensure_named_fields(fields: FieldSet, node: Node | None) -> FieldSet:
    """The set plus every named field on the way to its paths.

    Upstream's ``EnsureNamedFieldsAreMembers``: owning ``spec.replicas``
    also counts as owning the ``spec`` field (not a list item or a map key),
    which is how pruning decides that a whole struct may go.
    """
    members = set(fields.members)
    children = {}
    declared = schema.resolve(node).get("properties", ()) if node is not None else ()
    for element, below in fields.children.items():
        kind, name = element[0], element[2:]
        if kind == "f":
            if name in declared:
                members.add(element)
            child_node = field_node(node, name)
        else:
            child_node = item_node(node) if kind == "k" else None
        children[element] = ensure_named_fields(below, child_node)
    return FieldSet(members, children)


def _first_repeat(elements: list[str]) -> str | None:
    seen: set[str] = set()
    for element in elements:
        if element in seen:
            return element
        seen.add(element)
    return None
