"""Removing what an applier stopped applying (upstream's ``Updater.prune``).

A field goes when the applier applied it last time, does not apply it now,
and no other manager owns it. Upstream computes that in three passes over
the merged object, and so does this module, because the passes decide
subtle cases the same way upstream does: a map-list item the applier drops
goes as a whole even if another manager owns a field inside it, while a
field the object got by defaulting and nobody owns stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynetes.api.fieldmanager.fields import ensure_named_fields, to_field_set
from pynetes.api.fieldmanager.fieldset import FieldSet, field_element
from pynetes.api.fieldmanager.typed import (
    Shape,
    field_node,
    item_node,
    items_by_element,
    shape,
)
from pynetes.api.schema import Node


def prune(
    merged: dict[str, Any], owned: Iterable[FieldSet], last_applied: FieldSet, node: Node | None
) -> dict[str, Any]:
    """``merged`` without the fields the applier dropped since ``last_applied``.

    ``owned`` are the sets of every manager, the applier's new one included.
    """
    last = ensure_named_fields(last_applied, node)
    everything = _named_field_set(merged, node)
    without_last = _named_field_set(remove_items(merged, last, node), node)
    anyone = FieldSet()
    for fields in owned:
        anyone = anyone.union(fields)
    unowned = everything.difference(without_last.union(ensure_named_fields(anyone, node)))
    kept = _named_field_set(remove_items(merged, unowned, node), node)
    return _object(remove_items(merged, everything.difference(kept).intersection(last), node))


def _named_field_set(value: Any, node: Node | None) -> FieldSet:
    return ensure_named_fields(to_field_set(_object(value), node), node)


def _object(value: Any) -> dict[str, Any]:
    """The root after removals: an object, even when nothing is left of it."""
    return value if isinstance(value, dict) else {}


def remove_items(value: Any, doomed: FieldSet, node: Node | None) -> Any:
    """``value`` without the paths of ``doomed`` (each with everything below it).

    As upstream's ``RemoveItems``: a map or list walked into and left empty
    becomes null (the caller's decoding drops such nulls, as upstream's
    typed round trip does). New containers are built along the walked
    paths; everything else is shared with ``value``.
    """
    value_shape = shape(node, value)
    if value_shape is Shape.MAP:
        return _remove_from_map(value, doomed, node) if isinstance(value, dict) else None
    if value_shape is Shape.LIST:
        return _remove_from_list(value, doomed, node) if isinstance(value, list) else None
    return value


def _remove_from_map(value: dict[str, Any], doomed: FieldSet, node: Node | None) -> Any:
    kept = {}
    for name, child in value.items():
        element = field_element(name)
        if element in doomed.members:
            continue
        below = doomed.children.get(element)
        kept[name] = child if below is None else remove_items(child, below, field_node(node, name))
    return kept or None


def _remove_from_list(value: list[Any], doomed: FieldSet, node: Node | None) -> Any:
    kept = []
    child_node = item_node(node)
    for item, element in zip(value, items_by_element(node, value), strict=True):
        if element in doomed.members:
            continue
        below = doomed.children.get(element)
        kept.append(item if below is None else remove_items(item, below, child_node))
    return kept or None
