"""What changed between two versions of an object (upstream's ``TypedValue.Compare``).

Ownership follows change: an update owns what it added or modified, and
what it removed leaves every manager. A map or list item that appears or
disappears as a whole is itself added or removed, which is why an update
that creates ``metadata.labels`` owns ``f:labels`` with ``".": {}``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pynetes.api.fieldmanager.fieldset import FieldSet, Path, field_element
from pynetes.api.fieldmanager.typed import (
    ABSENT,
    SchemaError,
    Shape,
    field_node,
    item_node,
    items_by_element,
    pair_shape,
    shape,
    values_equal,
)
from pynetes.api.schema import Node


@dataclass(frozen=True)
class Comparison:
    removed: FieldSet
    modified: FieldSet
    added: FieldSet

    def changed(self) -> FieldSet:
        """What the new version set: the fields that move to whoever wrote it."""
        return self.modified.union(self.added)

    def excluding(self, ignored: FieldSet) -> Comparison:
        """The comparison without the fields a strategy resets (and all below them)."""
        if ignored.empty():
            return self
        return Comparison(
            self.removed.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.added.recursive_difference(ignored),
        )


def compare(old: Any, new: Any, node: Node | None) -> Comparison:
    """The fields removed, modified and added from ``old`` to ``new``; SchemaError
    when a list item has no name."""
    result = Comparison(FieldSet(), FieldSet(), FieldSet())
    _compare(old, new, node, (), result)
    return result


def _compare(old: Any, new: Any, node: Node | None, path: Path, result: Comparison) -> None:
    if old is ABSENT and path:
        _add_all(new, node, result.added.subtree(path[:-1]), path[-1])
        return
    walked = pair_shape(node, old, new)
    if walked is Shape.MAP:
        descended = _compare_maps(old, new, node, path, result)
    elif walked is Shape.LIST:
        descended = _compare_lists(old, new, node, path, result)
    else:
        descended = False
    if not descended:
        _compare_leaf(old, new, path, result)
    elif old is ABSENT:
        result.added.insert(path)
    elif new is ABSENT:
        result.removed.insert(path)


def _add_all(value: Any, node: Node | None, parent: FieldSet, element: str) -> None:
    """Record ``value``, new at ``element`` under ``parent`` in the added set: what
    ``_compare`` finds against ABSENT (every field of it, and each non-empty map
    or list itself), in one walk of the new value alone. Creates are mostly this.
    """
    walked = shape(node, value)
    if walked is Shape.MAP and isinstance(value, dict) and value:
        below = parent.subtree((element,))
        for name, item in value.items():
            child = field_element(name)
            try:
                _add_all(item, field_node(node, name), below, child)
            except SchemaError as error:
                raise error.within(child) from None
    elif walked is Shape.LIST and isinstance(value, list) and value:
        below = parent.subtree((element,))
        child_node = item_node(node)
        grouped = _group(items_by_element(node, value), value)
        for child, items in grouped.items():
            if len(items) > 1:
                below.members.add(child)  # items sharing a name are one atomic group
                continue
            try:
                _add_all(items[0], child_node, below, child)
            except SchemaError as error:
                raise error.within(child) from None
    parent.members.add(element)


def _compare_leaf(old: Any, new: Any, path: Path, result: Comparison) -> None:
    if old is ABSENT:
        result.added.insert(path)
    elif new is ABSENT:
        result.removed.insert(path)
    elif not values_equal(old, new):
        result.modified.insert(path)


def _compare_maps(old: Any, new: Any, node: Node | None, path: Path, result: Comparison) -> bool:
    """Compare field by field; False when both are empty (then they are leaves)."""
    left = old if isinstance(old, dict) else {}
    right = new if isinstance(new, dict) else {}
    if not left and not right:
        return False
    for name in left.keys() | right.keys():
        element = field_element(name)
        try:
            _compare(
                left.get(name, ABSENT),
                right.get(name, ABSENT),
                field_node(node, name),
                (*path, element),
                result,
            )
        except SchemaError as error:
            raise error.within(element) from None
    return True


def _compare_lists(old: Any, new: Any, node: Node | None, path: Path, result: Comparison) -> bool:
    """Compare item by item, matched by name; False when both are empty.

    Items sharing a name (possible in stored objects) are compared as one
    atomic group, as upstream does.
    """
    left = old if isinstance(old, list) else []
    right = new if isinstance(new, list) else []
    if not left and not right:
        return False
    left_items = _group(items_by_element(node, left), left)
    right_items = _group(items_by_element(node, right), right)
    child_node = item_node(node)
    for element in left_items.keys() | right_items.keys():
        before = left_items.get(element, [])
        after = right_items.get(element, [])
        item_path = (*path, element)
        if len(before) <= 1 and len(after) <= 1:
            try:
                _compare(
                    before[0] if before else ABSENT,
                    after[0] if after else ABSENT,
                    child_node,
                    item_path,
                    result,
                )
            except SchemaError as error:
                raise error.within(element) from None
        elif len(before) >= 2 and len(after) >= 2:
            if len(before) != len(after) or not all(map(values_equal, before, after)):
                result.modified.insert(item_path)
        elif len(before) >= 2:
            if after:
                _compare(ABSENT, after[0], child_node, item_path, result)
            result.removed.insert(item_path)
        else:
            if before:
                _compare(before[0], ABSENT, child_node, item_path, result)
            result.added.insert(item_path)
    return True


def _group(elements: list[str], items: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for element, item in zip(elements, items, strict=True):
        grouped[element].append(item)
    return grouped
