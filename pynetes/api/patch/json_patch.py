"""JSON patch (RFC 6902, ``application/json-patch+json``) as kube-apiserver applies it.

kube-apiserver applies JSON patches with evanphx/json-patch v4.12.0, whose
behaviour differs from the RFC in ways clients can notice, and which this
module keeps:

- ``replace`` of a missing object member adds it (only list indexes are
  checked), and ``replace`` of the whole document with a scalar does nothing;
- ``copy`` from a missing object member copies ``null``;
- a missing or null ``value`` is ``null``;
- negative list indexes count from the end; indexes are parsed like Go's
  ``strconv.Atoi`` (``+1`` and ``01`` are 1);
- a path that does not start with ``/`` ignores its first segment;
- ``test`` compares numbers by their JSON text, so ``1`` is not ``1.0``.

A patch that is not a list of objects is a 400 ``BadRequest`` with Go's
decoding message; more than 10000 operations is a 413; an operation that
cannot be applied is the 422 ``Invalid`` upstream answers, whose message does
not say why (upstream drops the cause): the cause, worded as upstream words
it, is chained to the :class:`ApiError` as a :class:`JsonPatchFailure`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pynetes.api.errors import ApiError, bad_request
from pynetes.api.jsoncopy import copy_json

#: Upstream's maximum number of operations in one JSON patch.
MAX_OPERATIONS = 10000
#: kube-apiserver's JSONPatchMaxCopyBytes: how much ``copy`` may add in total.
MAX_COPY_BYTES = 3 * 1024 * 1024

_INVALID = "the server rejected our request due to an error in our request"
_ESCAPE = re.compile(r"~[01]")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MISSING_POINTER = {"path": "operation missing path field", "from": "operation, missing from field"}


class JsonPatchFailure(Exception):
    """Why an operation failed, in evanphx/json-patch's words (for logs)."""


class _Document:
    """The document being patched: ``replace`` of the path "" swaps it whole."""

    def __init__(self, root: Any) -> None:
        self.root = root


def apply_json_patch(document: Any, operations: Any) -> Any:
    """Apply ``operations`` to a copy of ``document`` and return the copy.

    Neither argument is changed: the apiserver retries a patch on a conflict,
    so the stored object and the decoded patch must survive a failed attempt.
    """
    _check_decodable(operations)
    operations = operations or []
    if len(operations) > MAX_OPERATIONS:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(operations)}",
        )
    document = _Document(copy_json(document))
    copied = _CopyBudget()
    try:
        for operation in operations:
            _apply(document, operation or {}, copied)
    except JsonPatchFailure as failure:
        raise ApiError(422, "Invalid", _INVALID) from failure
    return document.root


class _CopyBudget:
    """Bytes added by ``copy`` operations so far, against MAX_COPY_BYTES."""

    def __init__(self) -> None:
        self.used = 0

    def spend(self, value: Any) -> None:
        if value is None:
            return
        self.used += len(orjson.dumps(value))
        if self.used > MAX_COPY_BYTES:
            raise JsonPatchFailure(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{self.used}, exceeding the limit {MAX_COPY_BYTES}"
            )


def _check_decodable(operations: Any) -> None:
    """400 as Go's json.Unmarshal into ``[]map[string]*json.RawMessage`` fails."""
    if operations is None:
        return
    if not isinstance(operations, list):
        raise bad_request(_cannot_unmarshal(operations, "jsonpatch.Patch"))
    for operation in operations:
        if operation is not None and not isinstance(operation, dict):
            raise bad_request(_cannot_unmarshal(operation, "jsonpatch.Operation"))


def _cannot_unmarshal(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {json_type(value)} into Go value of type {go_type}"


def json_type(value: Any) -> str:
    """The JSON type name Go's decoder reports: object, array, string, number, bool."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _apply(document: _Document, operation: dict[str, Any], copied: _CopyBudget) -> None:
    kind = operation.get("op")
    handler = _OPERATIONS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        name = kind if isinstance(kind, str) else "unknown"
        raise JsonPatchFailure(f"Unexpected kind: {name}")
    handler(document, operation, copied)


def _pointer(operation: dict[str, Any], field: str, context: str, *, with_cause: bool) -> str:
    """The op's ``path`` or ``from``, or the failure upstream reports for it.

    Upstream words a missing or non-string pointer differently per operation:
    some keep the decoding error (``with_cause``), some only say "missing value".
    """
    value = operation.get(field)
    if isinstance(value, str):
        return value
    if not with_cause:
        cause = "missing value"
    elif value is None:
        cause = f"{_MISSING_POINTER[field]}: missing value"
    else:
        cause = _cannot_unmarshal(value, "string")
    raise JsonPatchFailure(f"{context}: {cause}")


def _value(operation: dict[str, Any]) -> Any:
    """The op's value, copied so that later operations cannot alter the patch."""
    return copy_json(operation.get("value"))


def _missing(message: str) -> JsonPatchFailure:
    return JsonPatchFailure(f"{message}: missing value")


def _add(document: _Document, operation: dict[str, Any], _copied: _CopyBudget) -> None:
    path = _pointer(operation, "path", "add operation failed to decode path", with_cause=False)
    parent, key = _parent(document.root, path)
    if parent is None:
        raise _missing(f'add operation does not apply: doc is missing path: "{path}"')
    _wrapped(f"error in add for path: '{path}'", _insert, parent, key, _value(operation))


def _remove(document: _Document, operation: dict[str, Any], _copied: _CopyBudget) -> None:
    path = _pointer(operation, "path", "remove operation failed to decode path", with_cause=False)
    parent, key = _parent(document.root, path)
    if parent is None:
        raise _missing(f'remove operation does not apply: doc is missing path: "{path}"')
    _wrapped(f"error in remove for path: '{path}'", _delete, parent, key)


def _replace(document: _Document, operation: dict[str, Any], _copied: _CopyBudget) -> None:
    path = _pointer(operation, "path", "replace operation failed to decode path", with_cause=True)
    value = _value(operation)
    if path == "":
        # Upstream swaps the whole document only for an object or an array;
        # for anything else its error wraps a nil error, which is no error.
        if isinstance(value, dict | list):
            document.root = value
        return
    parent, key = _parent(document.root, path)
    if parent is None:
        raise _missing(f"replace operation does not apply: doc is missing path: {path}")
    try:
        _get(parent, key)
    except JsonPatchFailure:
        raise _missing(f"replace operation does not apply: doc is missing key: {path}") from None
    _set(parent, key, value)


def _move(document: _Document, operation: dict[str, Any], _copied: _CopyBudget) -> None:
    source = _pointer(operation, "from", "move operation failed to decode from", with_cause=True)
    parent, key = _parent(document.root, source)
    if parent is None:
        raise _missing(f"move operation does not apply: doc is missing from path: {source}")
    value = _wrapped(f"error in move for path: '{key}'", _get, parent, key)
    _wrapped(f"error in move for path: '{key}'", _delete, parent, key)
    path = _pointer(operation, "path", "move operation failed to decode path", with_cause=True)
    parent, key = _parent(document.root, path)
    if parent is None:
        raise _missing(f"move operation does not apply: doc is missing destination path: {path}")
    _wrapped(f"error in move for path: '{path}'", _insert, parent, key, value)


def _test(document: _Document, operation: dict[str, Any], _copied: _CopyBudget) -> None:
    path = _pointer(operation, "path", "test operation failed to decode path", with_cause=True)
    expected = operation.get("value")
    if path == "":
        actual = document.root
    else:
        parent, key = _parent(document.root, path)
        if parent is None:
            raise _missing(f"test operation does not apply: is missing path: {path}")
        # A missing member reads as null, as upstream does not tell them apart.
        actual = _wrapped(f"error in test for path: '{path}'", _get, parent, key)
    if not _json_equal(actual, expected):
        raise JsonPatchFailure(f"testing value {path} failed: test failed")


def _copy(document: _Document, operation: dict[str, Any], copied: _CopyBudget) -> None:
    source = _pointer(operation, "from", "copy operation failed to decode from", with_cause=True)
    parent, key = _parent(document.root, source)
    if parent is None:
        raise _missing(f"copy operation does not apply: doc is missing from path: {source}")
    value = _wrapped(f"error in copy for from: '{source}'", _get, parent, key)
    path = _pointer(operation, "path", "copy operation failed to decode path", with_cause=False)
    parent, key = _parent(document.root, path)
    if parent is None:
        raise _missing(f"copy operation does not apply: doc is missing destination path: {path}")
    copied.spend(value)
    _wrapped("error while adding value during copy", _insert, parent, key, copy_json(value))


_OPERATIONS = {
    "add": _add,
    "remove": _remove,
    "replace": _replace,
    "move": _move,
    "test": _test,
    "copy": _copy,
}


def _wrapped(context: str, action: Any, *arguments: Any) -> Any:
    """Run a container step, prefixing its failure as upstream's errors.Wrapf does."""
    try:
        return action(*arguments)
    except JsonPatchFailure as error:
        raise JsonPatchFailure(f"{context}: {error}") from None


def _parent(root: Any, path: str) -> tuple[dict[str, Any] | list[Any] | None, str]:
    """The container holding ``path``'s last token, and that token (None if absent).

    As upstream: the first segment is skipped whatever it is, a null or a
    scalar on the way means the path is missing.
    """
    segments = path.split("/")
    if len(segments) < 2:
        return None, ""
    container: Any = root
    for token in segments[1:-1]:
        try:
            container = _get(container, _unescape(token))
        except JsonPatchFailure:
            return None, ""
        if not isinstance(container, dict | list):
            return None, ""
    if not isinstance(container, dict | list):
        return None, ""
    return container, _unescape(segments[-1])


def _unescape(token: str) -> str:
    return _ESCAPE.sub(lambda match: "/" if match.group() == "~1" else "~", token)


def _go_atoi(token: str) -> int:
    if not _GO_INT.fullmatch(token):
        raise JsonPatchFailure(f'strconv.Atoi: parsing "{token}": invalid syntax')
    number = int(token)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise JsonPatchFailure(f'strconv.Atoi: parsing "{token}": value out of range')
    return number


def _invalid_index(index: int) -> JsonPatchFailure:
    return JsonPatchFailure(f"Unable to access invalid index: {index}: invalid index referenced")


def _existing_index(items: list[Any], token: str) -> int:
    """A list index that must exist; negative ones count from the end."""
    index = _go_atoi(token)
    if index < 0:
        if index < -len(items):
            raise _invalid_index(index)
        index += len(items)
    if index >= len(items):
        raise _invalid_index(index)
    return index


def _get(container: dict[str, Any] | list[Any], key: str) -> Any:
    """A member (None when missing, as upstream does not tell them apart)."""
    if isinstance(container, dict):
        return container.get(key)
    return container[_existing_index(container, key)]


def _set(container: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    else:
        container[_existing_index(container, key)] = value


def _insert(container: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _go_atoi(key)
    except JsonPatchFailure as error:
        raise JsonPatchFailure(f"value was not a proper array index: '{key}': {error}") from None
    size = len(container) + 1
    if index >= size or index < -size:
        raise _invalid_index(index)
    container.insert(index + size if index < 0 else index, value)


def _delete(container: dict[str, Any] | list[Any], key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise JsonPatchFailure(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    index = _go_atoi(key)
    if index >= len(container):
        raise _invalid_index(index)
    if index < 0:
        if index < -len(container):
            raise _invalid_index(index)
        index += len(container)
    del container[index]


def _json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values as upstream's ``test`` sees them.

    Upstream compares scalars by their compact JSON text, so a number only
    equals a number written alike: an integer never equals a float, and a
    boolean is never a number (Python would say ``True == 1 == 1.0``).
    """
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_json_equal(value, right[key]) for key, value in left.items())
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    return type(left) is type(right) and left == right
