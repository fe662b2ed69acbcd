"""Field sets: the fields of an object a manager owns, and their FieldsV1 form.

This is upstream's ``fieldpath.Set`` (sigs.k8s.io/structured-merge-diff).
A path element is kept in its FieldsV1 spelling, which is canonical, so
equal elements are equal strings:

- ``f:<name>``  a field of a map or struct;
- ``k:<json>``  the item of a map-list whose key fields have these values;
- ``v:<json>``  the item of a set-list with this value;
- ``i:<index>`` an item of an atomic list (apply never makes one; kept when read).

A set is a tree. ``members`` are the elements owned at this level,
``children`` the elements with owned fields below them. An element can be
both, e.g. a map-list item that is owned as a whole and whose fields are
owned too: FieldsV1 writes that as ``".": {}`` inside the item.

Sets are built once (``insert``) and then treated as immutable: every
operation returns a new set, which may share subtrees with its operands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from pynetes.api.fieldmanager import gojson

Path = tuple[str, ...]

_SELF = "."
_INDEX = re.compile(r"[+-]?[0-9]+")
_KNOWN_KINDS = "fkvi"


class FieldSet:
    """A set of field paths, as a tree of path elements."""

    __slots__ = ("children", "members")

    def __init__(
        self, members: set[str] | None = None, children: dict[str, FieldSet] | None = None
    ) -> None:
        self.members: set[str] = set() if members is None else members
        self.children: dict[str, FieldSet] = {} if children is None else children

    @classmethod
    def of(cls, *paths: Sequence[str]) -> FieldSet:
        built = cls()
        for path in paths:
            built.insert(path)
        return built

    def insert(self, path: Sequence[str]) -> None:
        """Add a path (only while building: sets are shared once built).

        The empty path is the whole object, which nobody owns (as upstream).
        """
        if path:
            self.subtree(path[:-1]).members.add(path[-1])

    def subtree(self, path: Sequence[str]) -> FieldSet:
        """The set below ``path``, made (empty) where missing: only while building."""
        node = self
        for element in path:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = FieldSet()
            node = child
        return node

    def empty(self) -> bool:
        return not self.members and all(child.empty() for child in self.children.values())

    def union(self, other: FieldSet) -> FieldSet:
        children = dict(self.children)
        for element, theirs in other.children.items():
            mine = children.get(element)
            children[element] = theirs if mine is None else mine.union(theirs)
        return FieldSet(self.members | other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for element, mine in self.children.items():
            theirs = other.children.get(element)
            if theirs is not None:
                common = mine.intersection(theirs)
                if not common.empty():
                    children[element] = common
        return FieldSet(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """The paths of this set not in ``other``: a parent in ``other`` keeps its children."""
        children = {}
        for element, mine in self.children.items():
            theirs = other.children.get(element)
            if theirs is None:
                children[element] = mine
                continue
            rest = mine.difference(theirs)
            if not rest.empty():
                children[element] = rest
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like ``difference``, but a path of ``other`` also removes everything below it."""
        children = {}
        for element, mine in self.children.items():
            if element in other.members:
                continue
            theirs = other.children.get(element)
            rest = mine if theirs is None else mine.recursive_difference(theirs)
            if not rest.empty():
                children[element] = rest
        return FieldSet(self.members - other.members, children)

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every owned path, in upstream's order: members first, then children."""
        for element in sorted(self.members, key=element_order):
            yield (*prefix, element)
        for element in sorted(self.children, key=element_order):
            yield from self.children[element].paths((*prefix, element))

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 document, keys in the order upstream writes them."""
        document: dict[str, Any] = {}
        for element in sorted(self.members | self.children.keys(), key=element_order):
            child = self.children.get(element)
            if child is None:
                document[element] = {}
                continue
            inner: dict[str, Any] = {}
            if element in self.members and (child.members or child.children):
                inner[_SELF] = {}
            inner.update(child.to_fields_v1())
            document[element] = inner
        return document

    @classmethod
    def from_fields_v1(cls, document: Any) -> FieldSet:
        """Read a FieldsV1 document; raises ValueError on a malformed one."""
        found, _is_member = _read(document)
        return found if found is not None else cls()


def _read(document: Any) -> tuple[FieldSet | None, bool]:
    """(the set below, whether the element itself is owned), as upstream reads it.

    An element whose object holds nothing but ``"."`` or unknown element
    kinds is owned as a whole.
    """
    if not isinstance(document, dict):
        raise ValueError(f"expected an object, got {orjson.dumps(document).decode()}")
    found: FieldSet | None = None
    is_member = False
    for key, value in document.items():
        if key == _SELF:
            is_member = True
            continue
        element = parse_element(key)
        if element is None:
            continue
        below, owned = _read(value)
        if found is None:
            found = FieldSet()
        if owned:
            found.members.add(element)
        if below is not None:
            found.children[element] = below
    return found, is_member or found is None


def field_element(name: str) -> str:
    return "f:" + name


def key_element(fields: dict[str, Any]) -> str:
    return "k:" + gojson.dumps(fields)


def value_element(value: Any) -> str:
    return "v:" + gojson.dumps(value)


def parse_element(text: str) -> str | None:
    """The canonical spelling of a FieldsV1 key; None for element kinds upstream skips."""
    if len(text) < 2:
        raise ValueError(f"key must be 2 characters long: {text}")
    if text[1] != ":":
        raise ValueError(f"missing colon: {text}")
    kind, body = text[0], text[2:]
    if kind not in _KNOWN_KINDS:
        return None
    if kind == "f":
        return text
    if kind == "i":
        if not _INDEX.fullmatch(body):
            raise ValueError(f"invalid index: {text}")
        return "i:" + str(int(body))
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"invalid path element {text}: {error}") from None
    if kind == "v":
        return value_element(decoded)
    if not isinstance(decoded, dict):
        raise ValueError(f"invalid key {text}: not an object")
    return key_element(decoded)


@functools.lru_cache(maxsize=8192)
def element_order(element: str) -> tuple[Any, ...]:
    """Sort key of a path element: fields < keys < values < indexes, as upstream."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return (0, body)
    if kind == "k":
        fields = orjson.loads(body)
        return (1, tuple((name, _value_order(fields[name])) for name in sorted(fields)))
    if kind == "v":
        return (2, _value_order(orjson.loads(body)))
    return (3, int(body))


def _value_order(value: Any) -> tuple[Any, ...]:
    """Upstream's value order: numbers < strings < booleans < lists < maps < null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(item) for item in value))
    if isinstance(value, dict):
        return (4, tuple((key, _value_order(value[key])) for key in sorted(value)))
    return (5,)


def path_string(path: Sequence[str]) -> str:
    """A path as upstream prints it in conflicts: ``.spec.containers[name="web"].image``."""
    return "".join(element_string(element) for element in path)


def element_string(element: str) -> str:
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "i":
        return f"[{body}]"
    decoded = orjson.loads(body)
    if kind == "v":
        return f"[={_value_string(decoded)}]"
    return "[" + ",".join(f"{name}={_value_string(decoded[name])}" for name in decoded) + "]"


def _value_string(value: Any) -> str:
    """A value as Go's ``value.ToString`` prints it (strings quoted, null as null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_value_string(item) for item in value) + "]"
    return "".join(f"{key}={_value_string(item)}" for key, item in value.items())
