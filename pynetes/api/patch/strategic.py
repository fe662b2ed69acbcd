"""Strategic merge patch (``application/strategic-merge-patch+json``), as kube-apiserver applies it.

A merge patch whose lists are merged where the schema says so: a list field
with ``x-kubernetes-patch-strategy: merge`` merges its elements by
``x-kubernetes-patch-merge-key`` (containers by name, ports by
containerPort, ...) or, for scalars, as a set; every other list is replaced.
Upstream reads these from the Go struct tags, from which the schema's
extensions are generated, and never from ``x-kubernetes-list-type``: a
``listType=map`` list without a patch strategy is replaced, as kubectl, which
computes its patches from the same extensions, expects.

Directives, as upstream's ``strategicpatch`` package (apimachinery v0.31)
applies them on the server:

- ``null`` deletes a key;
- ``$patch: replace`` in a map takes the map as given, ``$patch: delete``
  empties it; in a list element, ``delete`` removes the elements with that
  merge key, ``replace`` makes the list the patch's other elements;
  ``merge`` is refused, as upstream refuses it;
- ``$retainKeys: [...]`` drops the keys of the original map not listed (and
  the patch may only set listed keys);
- ``$setElementOrder/<list>: [...]`` orders the merged list;
- ``$deleteFromPrimitiveList/<list>: [...]`` removes values from a list of
  scalars.

Without ``$setElementOrder``, the merged list keeps the original's relative
order and the patch's, and a patch element the original does not have comes
before the original elements it is not placed after in the patch: upstream
interleaves the two lists that way (``[a, b]`` patched with ``[c]`` gives
``[c, a, b]``).

The result is the merged map, before upstream decodes it into the typed
object: like upstream's, it may hold fields no schema knows (directives left
in subtrees the original did not have, unknown fields) and nulls from new list
elements; decoding drops or rejects those, and that is the caller's step.

Errors are those kube-apiserver answers: 400 ``BadRequest`` for a malformed
directive, 422 ``Invalid`` for lists of lists, and for everything else
upstream's plain Go error, which the apiserver reports as a 500 with no reason
and upstream's message (``map: map[image:nginx] does not contain declared
merge key: name``).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from pynetes.api import schema
from pynetes.api.errors import ApiError, bad_request
from pynetes.api.jsoncopy import copy_json
from pynetes.api.patch.json_patch import json_type

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER = "$setElementOrder"

_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"
_GO_TYPES: dict[type, str] = {
    dict: _MAP,
    list: _SLICE,
    str: "string",
    bool: "bool",
    int: "int64",
    float: "float64",
}


def apply_strategic_merge_patch(
    document: dict[str, Any], patch: Any, node: schema.Node | None
) -> dict[str, Any]:
    """Apply ``patch`` to a copy of ``document`` and return the copy.

    ``node`` is the schema of the document's kind (None for a kind without
    one: then maps merge and lists are replaced, as for any unknown field).
    ``patch`` is the decoded body: null patches nothing, and anything but an
    object is the 400 upstream answers when the body does not decode into a
    map. Neither argument is changed (the apiserver retries a patch on a
    conflict): the merge works on copies, which it may alter freely.
    """
    if patch is None:
        return copy_json(document)
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_type(patch)} into Go value of type {_MAP}")
    return _merge_map(copy_json(document), copy_json(patch), node)


# Maps.


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], node: schema.Node | None
) -> dict[str, Any]:
    """Merge ``patch`` into ``original``; both are this module's copies."""
    if _DIRECTIVE in patch:
        return _map_directive(patch)
    _apply_retain_keys(original, patch)
    _apply_element_orders(original, patch, node)
    for key, value in list(patch.items()):
        _merge_field(original, key, value, node)
    return original


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[_DIRECTIVE]
    if directive == "replace":
        del patch[_DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise _failure(f"unknown patch type: {_go_format(directive, 's')} in map: {_go_format(patch)}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``$retainKeys``: clear the keys of ``original`` the list does not name."""
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise bad_request("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in retained:
            raise bad_request("invalid patch format of retainKeys")
    for key in [key for key in original if key not in retained]:
        del original[key]


def _merge_field(original: dict[str, Any], key: str, value: Any, node: schema.Node | None) -> None:
    deletion = key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
    if deletion:
        key = _directive_target(key, _DELETE_FROM_PRIMITIVE_LIST)
    if value is None:
        original.pop(key, None)
        return
    if key not in original or type(original[key]) is not type(value):
        # Nothing to merge with: take the patch's value (a deletion list
        # has nothing to delete from).
        if not deletion:
            _set_or_drop(original, key, _without_nulls(value))
        return
    current = original[key]
    field = schema.field(node, key)
    if isinstance(current, dict):
        original[key] = _merge_map_field(current, value, field)
    elif isinstance(current, list):
        original[key] = _merge_list_field(current, value, field, deletion=deletion)
    else:
        original[key] = value


def _merge_map_field(
    original: dict[str, Any], patch: dict[str, Any], field: schema.Node | None
) -> dict[str, Any]:
    if _strategy(field) == "replace":
        return patch
    return _merge_map(original, patch, field)


def _strategy(field: schema.Node | None) -> str:
    """The field's patch strategy besides retainKeys: "merge", "replace" or ""."""
    strategies = schema.patch_strategies(field) - {"retainKeys"}
    return strategies.pop() if len(strategies) == 1 else ""


def _set_or_drop(original: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` to ``value`` without directives, or drop it if it is one."""
    kept, keep = _without_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def _without_nulls(value: Any) -> Any:
    """Drop null map members at any depth (upstream's discardNullValuesFromPatch)."""
    if isinstance(value, dict):
        for key in [key for key, item in value.items() if item is None]:
            del value[key]
        for item in value.values():
            _without_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _without_nulls(item)
    return value


def _without_directives(value: Any) -> tuple[Any, bool]:
    """The value without the maps that hold ``$patch``, and whether to keep it at all."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        for key, item in list(value.items()):
            kept, keep = _without_directives(item)
            if keep:
                value[key] = kept
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        kept_items = (_without_directives(item) for item in value)
        return [kept for kept, keep in kept_items if keep], True
    return value, True


def _directive_target(key: str, prefix: str) -> str:
    """The list a ``$prefix/<list>`` key names."""
    head, slash, target = key.partition("/")
    if not slash or head != prefix:
        if prefix == _SET_ELEMENT_ORDER:
            raise bad_request("invalid patch format of setElementOrder list")
        raise bad_request("invalid patch format of primitive list")
    return target


# Lists.


def _merge_list_field(
    original: list[Any], patch: list[Any], field: schema.Node | None, *, deletion: bool
) -> list[Any]:
    if _strategy(field) != "merge" and not deletion:
        return patch
    merge_key = schema.patch_merge_key(field) or ""
    return _merge_list(original, patch, schema.items(field), merge_key, deletion=deletion)


def _merge_list(
    original: list[Any],
    patch: list[Any],
    item: schema.Node | None,
    merge_key: str,
    *,
    deletion: bool,
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_type(original, patch)
    if kind is not dict:
        if deletion:
            return [value for value in original if not _contains(patch, value)]
        merged = _deduplicated(original + patch)
    else:
        if not merge_key:
            raise _failure("cannot merge lists without merge key for struct")
        target, patch = _apply_element_directives(original, patch, merge_key)
        original = target.items()
        merged = _merge_by_key(target, patch, merge_key, item)
    patch_items, server_items = _partition(merged, patch, merge_key)
    return _ordered(patch_items, server_items, patch, original, merge_key, kind)


def _element_type(*lists: list[Any]) -> type:
    """The one type of the lists' elements (upstream's sliceElementType)."""
    found: type | None = None
    for value in itertools.chain(*lists):
        if found is None:
            if isinstance(value, list):
                raise ApiError(
                    422, "Invalid", "the server rejected our request due to an error in our request"
                )
            found = type(value)
        elif type(value) is not found:
            raise _failure(f"list element types are not identical: {_go_format(list(lists))}")
    if found is None:
        raise _failure("no elements in any of the given slices")
    return found


def _same(left: Any, right: Any) -> bool:
    """Go's ``==`` on decoded JSON: an int64 is never a float64 nor a bool."""
    return type(left) is type(right) and left == right


def _contains(values: list[Any], value: Any) -> bool:
    return any(_same(item, value) for item in values)


def _deduplicated(values: list[Any]) -> list[Any]:
    unique: list[Any] = []
    for value in values:
        if not _contains(unique, value):
            unique.append(value)
    return unique


class _SharedList:
    """A Go slice over the caller's list, as upstream merges lists of maps.

    Upstream deletes ``$patch: delete`` elements by shifting the rest left in
    the original list's own array, then appends new elements into the room
    that frees: the caller's list sees both. When the list is merged for a
    ``$setElementOrder``, upstream then orders by that altered list, so the
    result depends on it (a server-only element can move after a new one).
    """

    def __init__(self, backing: list[Any]) -> None:
        self.backing = backing
        self.length = len(backing)
        self.beyond: list[Any] = []

    def items(self) -> list[Any]:
        return self.backing[: self.length] + self.beyond

    def delete(self, index: int) -> None:
        self.backing[index : self.length - 1] = self.backing[index + 1 : self.length]
        self.length -= 1

    def append(self, value: Any) -> None:
        if self.length < len(self.backing):
            self.backing[self.length] = value
            self.length += 1
        else:
            self.beyond.append(value)

    def set(self, index: int, value: Any) -> None:
        if index < self.length:
            self.backing[index] = value
        else:
            self.beyond[index - self.length] = value


def _apply_element_directives(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[_SharedList, list[Any]]:
    """Apply the ``$patch`` elements; return the list to merge into and the rest of the patch."""
    target = _SharedList(original)
    rest: list[Any] = []
    replace = False
    for element in patch:
        if _DIRECTIVE not in element:
            rest.append(element)
            continue
        directive = element[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            while (
                index := _find_by_key(target.items(), merge_key, element[merge_key])
            ) is not None:
                target.delete(index)
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _failure("merging lists cannot yet be specified in the patch")
        else:
            raise _failure(
                f"unknown patch type: {_go_format(directive, 's')} in map: {_go_format(element)}"
            )
    return (_SharedList(rest), []) if replace else (target, rest)


def _merge_by_key(
    target: _SharedList, patch: list[Any], merge_key: str, item: schema.Node | None
) -> list[Any]:
    for element in patch:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        index = _find_by_key(target.items(), merge_key, element[merge_key])
        if index is None:
            target.append(element)
        else:
            target.set(index, _merge_map(target.items()[index], element, item))
    return target.items()


def _find_by_key(values: list[Any], merge_key: str, value: Any) -> int | None:
    for index, element in enumerate(values):
        if not isinstance(element, dict):
            raise _failure(f"value for key {index} is not a map")
        if merge_key in element and _same(element[merge_key], value):
            return index
    return None


def _partition(merged: list[Any], order: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the elements ``order`` names and the others."""
    named: list[Any] = []
    others: list[Any] = []
    for value in merged:
        if merge_key:
            if not isinstance(value, dict):
                raise _bad_arg_type(_MAP, value)
            if merge_key not in value:
                raise _no_merge_key(value, merge_key)
            found = _find_by_key(order, merge_key, value[merge_key]) is not None
        else:
            found = _contains(order, value)
        (named if found else others).append(value)
    return named, others


def _ordered(
    patch_items: list[Any],
    server_items: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: type,
) -> list[Any]:
    """Upstream's normalizeElementOrder: sort both parts, then interleave them.

    Patch items follow ``patch_order``, server-only items ``server_order``;
    a server item goes first only when both are in ``server_order`` and it
    comes before the patch item there.
    """
    patch_items = _sorted_by(patch_items, patch_order, merge_key, kind)
    server_items = _sorted_by(server_items, server_order, merge_key, kind)
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_items) or right < len(patch_items):
        if right < len(patch_items) and left < len(server_items):
            server = _index(server_order, server_items[left], merge_key, kind)
            other = _index(server_order, patch_items[right], merge_key, kind)
            take_server = 0 <= server < other
        else:
            take_server = left < len(server_items)
        if take_server:
            result.append(server_items[left])
            left += 1
        else:
            result.append(patch_items[right])
            right += 1
    return result


def _sorted_by(items: list[Any], order: list[Any], merge_key: str, kind: type) -> list[Any]:
    """Items in ``order``'s order; deleted map items last (upstream's normalizeSliceOrder)."""
    deleted: list[Any] = []
    if kind is dict:
        for value in itertools.chain(items, order):
            if not isinstance(value, dict):
                raise _bad_arg_type(_MAP, value)
            if merge_key not in value:
                raise _no_merge_key(value, merge_key)
        deleted = [value for value in items if value.get(_DIRECTIVE) == "delete"]
        items = [value for value in items if value.get(_DIRECTIVE) != "delete"]

    def before(left: Any, right: Any) -> bool:
        # Upstream's comparison: an item missing from ``order`` is "before"
        # anything, which is no ordering, so the sort algorithm decides.
        left_index = _index(order, left, merge_key, kind)
        right_index = _index(order, right, merge_key, kind)
        return left_index < 0 or right_index < 0 or left_index < right_index

    return _go_stable_sort(items, before) + deleted


def _index(values: list[Any], value: Any, merge_key: str, kind: type) -> int:
    """Where ``value`` is in ``values`` (by merge key for maps), or -1."""

    def identity(element: Any) -> Any:
        if kind is not dict:
            return element
        return element.get(merge_key) if isinstance(element, dict) else None

    wanted = identity(value)
    return next(
        (index for index, element in enumerate(values) if _same(identity(element), wanted)), -1
    )


# $setElementOrder.


def _apply_element_orders(
    original: dict[str, Any], patch: dict[str, Any], node: schema.Node | None
) -> None:
    """Merge each list that has a ``$setElementOrder`` and order it (then drop both)."""
    for key in [key for key in patch if key.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg_type(_SLICE, order)
        target = _directive_target(key, _SET_ELEMENT_ORDER)
        _order_list(original, patch, target, order, schema.field(node, target))


def _order_list(
    original: dict[str, Any],
    patch: dict[str, Any],
    target: str,
    order: list[Any],
    field: schema.Node | None,
) -> None:
    in_original, in_patch = target in original, target in patch
    current = original.get(target) if in_original else []
    patch_list = patch.get(target) if in_patch else []
    for value in (current, patch_list):
        if not isinstance(value, list):
            raise _bad_arg_type(_SLICE, value)
    merge_key = schema.patch_merge_key(field) or ""
    _check_order(patch_list, order, merge_key)
    if not in_patch:
        if not in_original:
            return
        merged = current
    elif not in_original:
        merged = _without_directives(patch_list)[0]
    else:
        merged = _merge_list_field(current, patch_list, field, deletion=False)
    patch_items, server_items = _partition(merged, order, merge_key)
    kind = _element_type(current, patch_list)
    original[target] = _ordered(patch_items, server_items, order, current, merge_key, kind)
    patch.pop(target, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's elements must appear in ``order`` in the same relative order."""
    if not order or not patch_list:
        return
    listed = patch_list
    if merge_key:
        for value in patch_list:
            if not isinstance(value, dict):
                raise _bad_arg_type(_MAP, value)
        listed = [value for value in patch_list if value.get(_DIRECTIVE) != "delete"]
    position = 0
    for expected in order:
        if position == len(listed):
            return
        while isinstance(listed[position], dict) and _DIRECTIVE in listed[position]:
            position += 1
            if position == len(listed):
                return
        if _merge_key_equal(listed[position], expected, merge_key):
            position += 1
    if position < len(listed):
        raise _failure(
            f"The order in patch list:\n{_go_format(patch_list)}\n doesn't match "
            f"{_SET_ELEMENT_ORDER} list:\n{_go_format(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for value in (left, right):
        if not isinstance(value, dict):
            raise _bad_arg_type(_MAP, value)
    for value in (left, right):
        if merge_key not in value:
            raise _no_merge_key(value, merge_key)
    return _same(left[merge_key], right[merge_key])


# Errors, worded as upstream's Go errors print.


def _failure(message: str) -> ApiError:
    """A plain Go error: kube-apiserver answers 500 with no reason and its text."""
    return ApiError(500, "", message)


def _no_merge_key(value: dict[str, Any], merge_key: str) -> ApiError:
    return _failure(f"map: {_go_format(value)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: str, value: Any) -> ApiError:
    received = _GO_TYPES.get(type(value), "%!s(<nil>)")
    return _failure(f"expected a {expected}, but received a {received}")


def _go_format(value: Any, verb: str = "v") -> str:
    """``value`` as Go's fmt prints decoded JSON with ``%v`` (or ``%s``)."""
    if value is None and verb == "s":
        return "%!s(<nil>)"
    return _go_member(value, verb)


def _go_member(value: Any, verb: str) -> str:
    if isinstance(value, dict):
        members = (f"{key}:{_go_member(value[key], verb)}" for key in sorted(value))
        return "map[" + " ".join(members) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_member(item, verb) for item in value) + "]"
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = _go_float(value)
    return text if verb == "v" else f"%!s({_GO_TYPES[type(value)]}={text})"


def _go_float(number: float) -> str:
    """A float64 as Go's ``%v``: shortest digits, exponent form below 1e-4 and from 1e6."""
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)  # JSON numbers are finite
    text = "".join(map(str, digits))
    point = len(text) + exponent
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


# Go's sort.SliceStable, step for step: upstream sorts with a comparison that
# is not an ordering when an item is missing, so only the same algorithm
# gives the same order.

_GO_BLOCK = 20


def _go_stable_sort(items: list[Any], before: Any) -> list[Any]:
    data = list(items)
    size = len(data)
    start, end = 0, _GO_BLOCK
    while end <= size:
        _insertion_sort(data, start, end, before)
        start, end = end, end + _GO_BLOCK
    _insertion_sort(data, start, size, before)
    block = _GO_BLOCK
    while block < size:
        start, end = 0, 2 * block
        while end <= size:
            _sym_merge(data, start, start + block, end, before)
            start, end = end, end + 2 * block
        if start + block < size:
            _sym_merge(data, start, start + block, size, before)
        block *= 2
    return data


def _insertion_sort(data: list[Any], start: int, end: int, before: Any) -> None:
    for i in range(start + 1, end):
        j = i
        while j > start and before(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sym_merge(data: list[Any], a: int, m: int, b: int, before: Any) -> None:
    if m - a == 1:
        low, high = m, b
        while low < high:
            half = (low + high) // 2
            if before(data[half], data[a]):
                low = half + 1
            else:
                high = half
        for k in range(a, low - 1):
            data[k], data[k + 1] = data[k + 1], data[k]
        return
    if b - m == 1:
        low, high = a, m
        while low < high:
            half = (low + high) // 2
            if not before(data[m], data[half]):
                low = half + 1
            else:
                high = half
        for k in range(m, low, -1):
            data[k], data[k - 1] = data[k - 1], data[k]
        return
    mid = (a + b) // 2
    n = mid + m
    start, r = (n - b, mid) if m > mid else (a, m)
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not before(data[p - c], data[c]):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < mid:
        _sym_merge(data, a, start, mid, before)
    if mid < end < b:
        _sym_merge(data, mid, end, b, before)


def _rotate(data: list[Any], a: int, m: int, b: int) -> None:
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)


def _swap_range(data: list[Any], a: int, b: int, n: int) -> None:
    for i in range(n):
        data[a + i], data[b + i] = data[b + i], data[a + i]
