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

import orjson

from pynetes.api.fieldmanager.fieldset import FieldSet, Path, field_element
from pynetes.api.fieldmanager.typed import (
    ABSENT,
    SchemaError,
    Shape,
    TypeInfo,
    pair_shape,
    type_info,
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
    _compare(old, new, type_info(node), (), result)
    return result


def _compare(old: Any, new: Any, info: TypeInfo, path: Path, result: Comparison) -> None:
    if old is ABSENT and path:
        _add_all(new, info, result.added.subtree(path[:-1]), path[-1])
        return
    walked = pair_shape(info, old, new)
    if walked is Shape.MAP:
        descended = _compare_maps(old, new, info, path, result)
    elif walked is Shape.LIST:
        descended = _compare_lists(old, new, info, path, result)
    else:
        descended = False
    if not descended:
        _compare_leaf(old, new, path, result)
    elif old is ABSENT:
        result.added.insert(path)
    elif new is ABSENT:
        result.removed.insert(path)


def _add_all(value: Any, info: TypeInfo, parent: FieldSet, element: str) -> None:
    """Record ``value``, new at ``element`` under ``parent`` in the added set: what
    ``_compare`` finds against ABSENT (every field of it, and each non-empty map
    or list itself), in one walk of the new value alone. Creates are mostly this.
    """
    walked = info.shape(value)
    if walked is Shape.MAP and isinstance(value, dict) and value:
        below = parent.subtree((element,))
        for name, item in value.items():
            _add_child(item, info, name, below, field_element(name))
    elif walked is Shape.LIST and isinstance(value, list) and value:
        below = parent.subtree((element,))
        child_info = info.items()
        grouped = group_items(info.elements(value), value)
        for child, items in grouped.items():
            if len(items) > 1:
                below.members.add(child)  # items sharing a name are one atomic group
            elif is_container(items[0]):
                try:
                    _add_all(items[0], child_info, below, child)
                except SchemaError as error:
                    raise error.within(child) from None
            else:
                below.members.add(child)
    parent.members.add(element)


def _add_child(value: Any, info: TypeInfo, name: str, parent: FieldSet, element: str) -> None:
    """``_add_all`` of field ``name`` of a map whose TypeInfo is ``info``."""
    if not is_container(value):
        parent.members.add(element)
        return
    try:
        _add_all(value, info.field(name), parent, element)
    except SchemaError as error:
        raise error.within(element) from None


def same_json(old: Any, new: Any) -> bool:
    """True only if ``old`` and ``new`` are the same JSON, found without walking them
    in Python: an unchanged part of an update (most of it) adds nothing to a
    comparison. Python's ``==`` alone would take ``true`` for ``1``; their encodings
    tell those apart (and may differ for equal values, ``1`` and ``1.0`` or fields
    in another order: those are then walked, and found equal there)."""
    if old != new:
        return False
    try:
        return orjson.dumps(old) == orjson.dumps(new)
    except orjson.JSONEncodeError:  # what JSON cannot hold is walked
        return False


def is_container(value: Any) -> bool:
    """A non-empty map or list: anything else is a leaf whatever the schema says,
    so the walk need not ask the schema about it (most fields of an object)."""
    return bool(value) and isinstance(value, dict | list)


def _compare_leaf(old: Any, new: Any, path: Path, result: Comparison) -> None:
    if old is ABSENT:
        result.added.insert(path)
    elif new is ABSENT:
        result.removed.insert(path)
    elif not values_equal(old, new):
        result.modified.insert(path)


def _compare_maps(old: Any, new: Any, info: TypeInfo, path: Path, result: Comparison) -> bool:
    """Compare field by field; False when both are empty (then they are leaves)."""
    left = old if isinstance(old, dict) else {}
    right = new if isinstance(new, dict) else {}
    if not left and not right:
        return False
    added: FieldSet | None = None
    for name in left.keys() | right.keys():
        element = field_element(name)
        if name not in left:
            if added is None:
                added = result.added.subtree(path)
            _add_child(right[name], info, name, added, element)
            continue
        before = left[name]
        after = right.get(name, ABSENT)
        if is_container(before) and same_json(before, after):
            continue
        try:
            _compare(before, after, info.field(name), (*path, element), result)
        except SchemaError as error:
            raise error.within(element) from None
    return True


def _compare_lists(old: Any, new: Any, info: TypeInfo, path: Path, result: Comparison) -> bool:
    """Compare item by item, matched by name; False when both are empty.

    Items sharing a name (possible in stored objects) are compared as one
    atomic group, as upstream does.
    """
    left = old if isinstance(old, list) else []
    right = new if isinstance(new, list) else []
    if not left and not right:
        return False
    left_items = group_items(info.elements(left), left)
    right_items = group_items(info.elements(right), right)
    child_info = info.items()
    for element in left_items.keys() | right_items.keys():
        before = left_items.get(element, [])
        after = right_items.get(element, [])
        item_path = (*path, element)
        if len(before) <= 1 and len(after) <= 1:
            if before and after and is_container(before[0]) and same_json(before[0], after[0]):
                continue
            try:
                _compare(
                    before[0] if before else ABSENT,
                    after[0] if after else ABSENT,
                    child_info,
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
                _compare(ABSENT, after[0], child_info, item_path, result)
            result.removed.insert(item_path)
        else:
            if before:
                _compare(before[0], ABSENT, child_info, item_path, result)
            result.added.insert(item_path)
    return True


def group_items(elements: list[str], items: list[Any]) -> dict[str, list[Any]]:
    """The items of a list by their path element, in order."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    for element, item in zip(elements, items, strict=True):
        grouped[element].append(item)
    return grouped
