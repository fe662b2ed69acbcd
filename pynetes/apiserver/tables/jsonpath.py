"""The JSONPath subset that CRD ``additionalPrinterColumns`` use.

Upstream evaluates a column's ``jsonPath`` with client-go's ``jsonpath``
(missing keys allowed) and prints only the first result. Supported here:
fields (``.spec.replicas``, ``\\.``-escaped dots, ``['a.b']``), ``*`` and
``[*]``, indexes (``[0]``, ``[-1]``) and filters
(``[?(@.type=="Ready")]`` with ``== != < > <= >=``, or ``[?(@.field)]``).
Recursive descent (``..``) and slices are not: such a path is rejected,
which drops the column as upstream drops a column it cannot parse.

Evaluation follows client-go's errors too: indexing a non-list, an index
out of range, or comparing values of different kinds fails the whole path
(the cell is then null), while a missing key merely yields nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?\Z")


class JsonPathError(ValueError):
    """A path upstream cannot parse, or an evaluation error."""


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Index:
    position: int


@dataclass(frozen=True)
class Filter:
    left: tuple[Step, ...]
    operator: str
    right: object


Step = Field | Wildcard | Index | Filter
Path = tuple[Step, ...]


def parse(expression: str) -> Path:
    """Parse a path such as ``.status.conditions[?(@.type=="Ready")].status``."""
    steps: list[Step] = []
    position = 0
    while position < len(expression):
        if expression.startswith("..", position):
            raise JsonPathError("recursive descent is not supported")
        if expression[position] == ".":
            name, position = _field_name(expression, position + 1)
            if name:
                steps.append(Wildcard() if name == "*" else Field(name))
        elif expression[position] == "[":
            end = _closing_bracket(expression, position)
            steps.append(_bracket(expression[position + 1 : end]))
            position = end + 1
        else:
            raise JsonPathError(f"unexpected {expression[position]!r} in {expression!r}")
    return tuple(steps)


def _field_name(expression: str, position: int) -> tuple[str, int]:
    """A dotted field name up to the next unescaped ``.`` or ``[``; backslashes dropped."""
    name: list[str] = []
    while position < len(expression) and expression[position] not in ".[":
        if expression[position] == "\\" and position + 1 < len(expression):
            position += 1
        name.append(expression[position])
        position += 1
    return "".join(name), position


def _closing_bracket(expression: str, start: int) -> int:
    quote = None
    for position in range(start + 1, len(expression)):
        char = expression[position]
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "]":
            return position
    raise JsonPathError(f"unclosed [ in {expression!r}")


def _bracket(content: str) -> Step:
    content = content.strip()
    if content == "*":
        return Wildcard()
    if content.startswith("?(") and content.endswith(")"):
        return _filter(content[2:-1].strip())
    if len(content) >= 2 and content[0] == content[-1] and content[0] in "'\"":
        return Field(content[1:-1])
    try:
        return Index(int(content))
    except ValueError:
        raise JsonPathError(f"unsupported subscript [{content}]") from None


def _filter(condition: str) -> Filter:
    operator, left, right = _split_condition(condition)
    if not left.startswith("@"):
        raise JsonPathError(f"a filter must test @, not {left!r}")
    path = parse(left[1:])
    if operator == "exists":
        return Filter(path, operator, None)
    return Filter(path, operator, _literal(right))


def _split_condition(condition: str) -> tuple[str, str, str]:
    """``(operator, left, right)``; ``exists`` when there is no operator."""
    quote = None
    for position, char in enumerate(condition):
        if quote is not None:
            quote = None if char == quote else quote
            continue
        if char in "'\"":
            quote = char
            continue
        for operator in _OPERATORS:
            if condition.startswith(operator, position):
                right = condition[position + len(operator) :]
                return operator, condition[:position].strip(), right.strip()
    return "exists", condition, ""


def _literal(text: str) -> object:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        return float(text) if any(mark in text for mark in ".eE") else int(text)
    raise JsonPathError(f"unsupported filter value {text!r}")


def find(path: Path, document: Any) -> list[Any]:
    """Every value ``path`` reaches in ``document``, in order."""
    values = [document]
    for step in path:
        values = _apply(step, values)
    return values


def _apply(step: Step, values: list[Any]) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if value is None:
            continue
        if isinstance(step, Field):
            if isinstance(value, dict) and step.name in value and value[step.name] is not None:
                found.append(value[step.name])
        elif isinstance(step, Wildcard):
            found.extend(_members(value))
        elif isinstance(step, Index):
            found.append(_index(value, step.position))
        else:
            found.extend(member for member in _members(value) if _matches(step, member))
    return found


def _members(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    return list(value) if isinstance(value, list) else []


def _index(value: Any, position: int) -> Any:
    if not isinstance(value, list):
        raise JsonPathError(f"{type(value).__name__} is not array or slice")
    resolved = position + len(value) if position < 0 else position
    if not 0 <= resolved < len(value):
        raise JsonPathError(f"array index out of bounds: index {position}, length {len(value)}")
    return value[resolved]


def _matches(step: Filter, member: Any) -> bool:
    lefts = find(step.left, member)
    if not lefts:
        return False
    if len(lefts) > 1:
        raise JsonPathError("can only compare one element at a time")
    if step.operator == "exists":
        return True
    return _compare(step.operator, lefts[0], step.right)


def _kind(value: object) -> str:
    """The Go template comparison kind of a JSON value."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(value, types):
            return kind
    raise JsonPathError(f"cannot compare {type(value).__name__}")


def _compare(operator: str, left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        raise JsonPathError("incompatible types for comparison")
    if operator == "==":
        return left == right
    if operator == "!=":
        return left != right
    if kind == "bool":
        raise JsonPathError("invalid type for comparison")
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
        operator
    ]
