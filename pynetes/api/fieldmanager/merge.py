"""Merging an applied configuration into an object (upstream's ``TypedValue.Merge``).

Granular maps merge field by field; associative lists merge item by item,
matched by name (map-lists by their keys, sets by value); leaves (scalars,
atomic maps and lists) take the applied value. An applied null leaves a
map or list as it is, and sets a scalar to null.

Item order is upstream's: items the configuration names keep the
configuration's order among themselves, other items keep their place.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pynetes.api.fieldmanager.fieldset import element_string, field_element
from pynetes.api.fieldmanager.typed import (
    ABSENT,
    SchemaError,
    Shape,
    clone,
    field_node,
    item_node,
    items_by_element,
    pair_shape,
    type_info,
)
from pynetes.api.schema import Node


def merge(current: Any, applied: Any, node: Node | None) -> Any:
    """``applied`` merged into ``current``: a new value, sharing nothing with either.

    Either side may be ABSENT. SchemaError when a list item has no name, or
    when the applied configuration names an item twice.
    """
    walked = pair_shape(type_info(node), current, applied)
    if walked is Shape.MAP:
        merged = _merge_maps(current, applied, node)
    elif walked is Shape.LIST:
        merged = _merge_lists(current, applied, node)
    else:
        merged = None
    if merged is not None:
        return merged
    return clone(applied if applied is not ABSENT else current)


def _merge_maps(current: Any, applied: Any, node: Node | None) -> Any:
    """The merged map, ABSENT when nothing is left; None when both are empty (a leaf)."""
    left = current if isinstance(current, dict) else {}
    right = applied if isinstance(applied, dict) else {}
    if not left and not right:
        return None
    merged = {}
    for name in {**left, **right}:
        try:
            value = merge(left.get(name, ABSENT), right.get(name, ABSENT), field_node(node, name))
        except SchemaError as error:
            raise error.within(field_element(name)) from None
        if value is not ABSENT:
            merged[name] = value
    return merged or ABSENT


def _merge_lists(current: Any, applied: Any, node: Node | None) -> Any:
    """The merged list, ABSENT when nothing is left; None when both are empty (a leaf)."""
    left = current if isinstance(current, list) else []
    right = applied if isinstance(applied, list) else []
    if not left and not right:
        return None
    right_elements = items_by_element(node, right)
    right_items: dict[str, Any] = {}
    for element, item in zip(right_elements, right, strict=True):
        if element in right_items:
            raise SchemaError(f"duplicate entries for key {element_string(element)}")
        right_items[element] = item
    left_elements = items_by_element(node, left)
    left_items: dict[str, Any] = {}
    for element, item in zip(left_elements, left, strict=True):
        # A name the stored list repeats merges as null: the applied item wins.
        left_items[element] = None if element in left_items else item
    merger = _ListMerger(item_node(node), left_items, right_items)
    merger.run(left, left_elements, right_elements)
    return merger.merged or ABSENT


class _ListMerger:
    """Upstream's walk over both lists at once, which fixes the merged order."""

    def __init__(
        self, child_node: Node | None, left_items: dict[str, Any], right_items: dict[str, Any]
    ) -> None:
        self.child_node = child_node
        self.left_items = left_items
        self.right_items = right_items
        self.merged: list[Any] = []

    def take(self, element: str, current: Any, applied: Any) -> None:
        try:
            value = merge(current, applied, self.child_node)
        except SchemaError as error:
            raise error.within(element) from None
        if value is not ABSENT:
            self.merged.append(value)

    def run(self, left: list[Any], left_elements: list[str], right_elements: list[str]) -> None:
        shared = deque(element for element in right_elements if element in self.left_items)
        next_shared = shared.popleft() if shared else None
        taken_from_right: set[str] = set()
        left_index = right_index = 0
        while left_index < len(left) or right_index < len(right_elements):
            if left_index < len(left) and right_index < len(right_elements):
                element = left_elements[left_index]
                if element == right_elements[right_index]:
                    taken_from_right.add(element)
                    self.take(element, self.left_items[element], self.right_items[element])
                    left_index += 1
                    right_index += 1
                    next_shared = shared.popleft() if shared else None
                    continue
                if element in self.right_items and next_shared not in (None, element):
                    left_index += 1
                    continue
            if left_index < len(left):
                element = left_elements[left_index]
                if element not in self.right_items:
                    self.take(element, left[left_index], ABSENT)
                    left_index += 1
                    continue
                if element in taken_from_right:
                    left_index += 1
            if right_index < len(right_elements):
                element = right_elements[right_index]
                taken_from_right.add(element)
                self.take(element, self.left_items.get(element, ABSENT), self.right_items[element])
                right_index += 1
                if next_shared == element:
                    next_shared = shared.popleft() if shared else None
