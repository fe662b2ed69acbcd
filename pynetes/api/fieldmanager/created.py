"""The FieldsV1 a create gives its writer, in one walk of the new object.

A create is an update from the kind's zero object (``zero.py``): the writer
owns what ``compare`` finds added or modified, less the fields nobody owns.
This module writes that FieldsV1 document straight from the object, without
building field sets and then the document from them: every create pays for
it, and the general path took a quarter of a pod create. The two must agree
on every object; tests/unit/api/test_fieldmanager_created.py checks that
they do.

The zero objects hold structs and zero scalars, never a non-empty list
(``zero.py``); an ``old`` with one is not a create's and raises
``NotACreate``, so the caller takes the general path.
"""

from __future__ import annotations

from typing import Any, Final

from pynetes.api.fieldmanager.compare import group_items, is_container
from pynetes.api.fieldmanager.fieldset import element_order, field_element
from pynetes.api.fieldmanager.typed import Shape, TypeInfo, pair_shape, values_equal

Document = dict[str, Any]

_SELF: Final = "."
_FIELD: Final = field_element("")
_CONTAINERS: Final = (dict, list)
_METADATA: Final = field_element("metadata")
#: The fields of metadata the server sets, which nobody owns (nor apiVersion, kind,
#: or metadata itself): upstream's fieldmanager strips them from every set.
SERVER_SET_METADATA: Final = (
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
)
_NEVER_OWNED_TOP: Final = frozenset({field_element("apiVersion"), field_element("kind"), _METADATA})
_NEVER_OWNED_METADATA: Final = frozenset(field_element(name) for name in SERVER_SET_METADATA)


class NotACreate(Exception):
    """``old`` holds what a zero object never does (a non-empty list)."""


def created_fields_v1(zero: dict[str, Any], new: dict[str, Any], info: TypeInfo) -> Document:
    """The FieldsV1 of what a create of ``new`` owns (``{}``: nothing), the root's
    TypeInfo being ``info``. SchemaError when a list item has no name (without the
    path to it: the caller drops the tracking then, as upstream does)."""
    document = _changed_map(zero, new, info) or {}
    metadata = document.get(_METADATA)
    if metadata is not None:
        _disown(metadata, _NEVER_OWNED_METADATA)
    _disown(document, _NEVER_OWNED_TOP)
    return document


def _disown(document: Document, elements: frozenset[str]) -> None:
    """Nobody owns these elements themselves; what is below them stays owned."""
    for element in elements & document.keys():
        below = document[element]
        below.pop(_SELF, None)
        if not below:
            del document[element]


def _changed(old: Any, new: Any, info: TypeInfo) -> Document | None:
    """The document of a field both sides have: None when ``new`` leaves it as it
    was, ``{}`` when it is owned as a whole, else the changes below it."""
    walked = pair_shape(info, old, new)
    if walked is Shape.MAP and (old or new):
        return _changed_map(old, new, info)
    if walked is Shape.LIST and (old or new):
        if old:
            raise NotACreate
        return _added_items(new, info) if isinstance(new, list) and new else None
    return None if values_equal(old, new) else {}


def _changed_map(old: Any, new: Any, info: TypeInfo) -> Document | None:
    left = old if isinstance(old, dict) else {}
    right = new if isinstance(new, dict) else {}
    document: Document = {}
    for name in sorted(right):  # "f:" + name sorts as name does
        value = right[name]
        if name not in left:
            document[_FIELD + name] = _added(value, info.field(name)) if is_container(value) else {}
        elif (below := _changed(left[name], value, info.field(name))) is not None:
            document[_FIELD + name] = below
    return document or None


def _added(value: Any, info: TypeInfo) -> Document:
    """The document of a non-empty map or list new as a whole: owned itself, and
    every field below it.

    The loops spell out ``field_element`` and ``is_container``: this runs for
    every field of every object created, and the calls were a third of its time.
    """
    walked = info.shape(value)
    if walked is Shape.MAP and isinstance(value, dict):
        document: Document = {_SELF: {}}
        for name in sorted(value):
            item = value[name]
            if item and isinstance(item, _CONTAINERS):
                document[_FIELD + name] = _added(item, info.field(name))
            else:
                document[_FIELD + name] = {}
        return document
    if walked is Shape.LIST and isinstance(value, list):
        return {_SELF: {}, **_added_items(value, info)}
    return {}


def _added_items(items: list[Any], info: TypeInfo) -> Document:
    """The documents of a list's items, all new; items sharing a name are one atomic group."""
    item_info = info.items()
    grouped = group_items(info.elements(items), items)
    document: Document = {}
    for element in sorted(grouped, key=element_order):
        group = grouped[element]
        if len(group) == 1 and is_container(group[0]):
            document[element] = _added(group[0], item_info)
        else:
            document[element] = {}
    return document
