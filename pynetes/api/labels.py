"""Label selectors, as kube-apiserver parses, prints and applies them.

Three ways to get a :class:`Selector`, each with upstream's semantics:

- :func:`parse_label_selector` reads the ``labelSelector`` query string
  (upstream ``labels.Parse``): ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
  ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``; a comma is AND; the empty
  string selects everything. Errors are 400 BadRequest with upstream's text.
- :func:`selector_from_label_selector` converts a ``metav1.LabelSelector``
  dict (upstream ``LabelSelectorAsSelector``): ``None`` selects **nothing**,
  ``{}`` (no matchLabels, no matchExpressions) selects **everything**.
- :func:`selector_from_set` turns a plain label map (a Service's or a
  ReplicationController's ``spec.selector``) into equality requirements;
  ``None`` and ``{}`` select everything.

:func:`validate_label_selector` checks a LabelSelector inside an object and
returns :class:`~pynetes.api.errors.FieldError` s for a 422;
:func:`validate_labels`, :func:`qualified_name_errors` and
:func:`label_value_errors` are upstream's label key and value rules.

Matching runs on every object of every filtered list and watch, so a
selector compiles its requirements once into one matcher: equality
requirements become a single dict-items subset test.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.errors import FieldError, bad_request, forbidden, invalid, required
from pynetes.api.gofmt import go_quote, go_string_slice
from pynetes.api.validation import syntax

Labels = Mapping[str, str]
_Matcher = Callable[[Labels], bool]
_NO_LABELS: dict[str, str] = {}


class Operator(enum.StrEnum):
    """Upstream's selection.Operator, with the same string values."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


#: What a LabelSelector's matchExpressions may say, and the operator it means.
_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}
_EXACT = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN})
_ORDERED = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
_ORDERED_SYMBOLS = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}


class _SelectorError(Exception):
    """A selector that upstream would refuse; its text is upstream's error text."""


# --- Label key and value syntax (upstream util/validation, in validation.syntax) ---


def qualified_name_errors(value: str) -> list[str]:
    """Upstream IsQualifiedName: ``[prefix/]name``, as label keys must be; [] if valid."""
    return syntax.is_qualified_name(value)


def label_value_errors(value: str) -> list[str]:
    """Upstream IsValidLabelValue: at most 63 characters of ``[-A-Za-z0-9_.]``; [] if valid."""
    return syntax.is_valid_label_value(value)


def validate_labels(labels: Mapping[str, str] | None, path: str) -> list[FieldError]:
    """Upstream ValidateLabels: every error is reported at ``path`` itself, not per key."""
    errors: list[FieldError] = []
    for key, value in (labels or {}).items():
        errors.extend(invalid(path, key, message) for message in qualified_name_errors(key))
        errors.extend(invalid(path, value, message) for message in label_value_errors(value))
    return errors


# --- Error texts ---------------------------------------------------------------


def _invalid(field: str, rendered_value: str, detail: str) -> str:
    """The text of upstream's field.Invalid error."""
    return f"{field}: Invalid value: {rendered_value}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """Upstream's aggregate error text: duplicates dropped, several in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- Requirements -------------------------------------------------------------

_INT64 = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _go_int64(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64), or None where it would fail."""
    if not _INT64.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


@dataclass(frozen=True)
class Requirement:
    """One clause of a selector: a key, an operator and its values.

    ``values`` keep the order they were given in (the parser gives them
    sorted and without duplicates, as upstream's does); ``str()`` sorts them.
    """

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        operator = self.operator
        if operator is Operator.EXISTS:
            return self.key
        if operator is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if operator is Operator.IN:
            return f"{self.key} in ({values})"
        if operator is Operator.NOT_IN:
            return f"{self.key} notin ({values})"
        return f"{self.key}{_ORDERED_SYMBOLS.get(operator, operator)}{values}"


def _requirement_errors(key: str, operator: Operator, values: tuple[str, ...] | None) -> list[str]:
    """Upstream NewRequirement's checks, worded as its errors (no field path given)."""
    errors = []
    key_problems = qualified_name_errors(key)
    if key_problems:
        errors.append(_invalid("key", go_quote(key), "; ".join(key_problems)))
    given = values or ()
    if operator in (Operator.IN, Operator.NOT_IN) and not given:
        detail = "for 'in', 'notin' operators, values set can't be empty"
        errors.append(_invalid("values", go_string_slice(values), detail))
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(given) != 1:
            detail = "exact-match compatibility requires one single value"
            errors.append(_invalid("values", go_string_slice(values), detail))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and given:
        detail = "values set must be empty for exists and does not exist"
        errors.append(_invalid("values", go_string_slice(values), detail))
    elif operator in _ORDERED:
        if len(given) != 1:
            detail = "for 'Gt', 'Lt' operators, exactly one value is required"
            errors.append(_invalid("values", go_string_slice(values), detail))
        for index, value in enumerate(given):
            if _go_int64(value) is None:
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errors.append(_invalid(f"values[{index}]", go_quote(value), detail))
    for index, value in enumerate(given):
        problems = label_value_errors(value)
        if problems:
            field = f"values[{index}][{key}]"
            errors.append(_invalid(field, go_quote(value), "; ".join(problems)))
    return errors


def _new_requirement(key: str, operator: Operator, values: tuple[str, ...] | None) -> Requirement:
    errors = _requirement_errors(key, operator, values)
    if errors:
        raise _SelectorError(_aggregate(errors))
    return Requirement(key, operator, values or ())


# --- Compiled matching -------------------------------------------------------


def _always(_labels: Labels) -> bool:
    return True


def _ordered_check(requirement: Requirement) -> _Matcher:
    values = requirement.values
    key, bound = requirement.key, _go_int64(values[0]) if len(values) == 1 else None
    greater = requirement.operator is Operator.GREATER_THAN

    def check(labels: Labels) -> bool:
        value = labels.get(key)
        number = None if value is None else _go_int64(value)
        if number is None or bound is None:
            return False
        return number > bound if greater else number < bound

    return check


def _check(requirement: Requirement) -> _Matcher:
    """One requirement as a predicate; a missing label reads as None, never a value."""
    key, operator = requirement.key, requirement.operator
    values = frozenset(requirement.values)
    if operator in _EXACT:
        return lambda labels: labels.get(key) in values
    if operator in (Operator.NOT_IN, Operator.NOT_EQUALS):
        return lambda labels: labels.get(key) not in values
    if operator is Operator.EXISTS:
        return lambda labels: key in labels
    if operator is Operator.DOES_NOT_EXIST:
        return lambda labels: key not in labels
    return _ordered_check(requirement)


def _compile(requirements: tuple[Requirement, ...]) -> _Matcher:
    """All requirements as one predicate: single-value equalities as one subset test."""
    wanted: dict[str, str] = {}
    checks: list[_Matcher] = []
    for requirement in requirements:
        single = len(set(requirement.values)) == 1
        if requirement.operator in _EXACT and single and requirement.key not in wanted:
            wanted[requirement.key] = requirement.values[0]
        else:
            checks.append(_check(requirement))
    pairs = wanted.items()
    if not checks:
        if len(wanted) == 1:
            [(key, value)] = pairs
            return lambda labels: labels.get(key) == value
        return (lambda labels: pairs <= labels.items()) if pairs else _always
    if not pairs and len(checks) == 1:
        return checks[0]

    def matches(labels: Labels) -> bool:
        if pairs and not pairs <= labels.items():
            return False
        return all(check(labels) for check in checks)

    return matches


class Selector:
    """A label selector: requirements ANDed, or upstream's Nothing selector.

    ``matches`` is compiled when the selector is built and accepts ``None``
    for an object without labels. Selectors are immutable, hashable and
    compare by their requirements, so watchers with the same selector can
    share work.
    """

    __slots__ = ("_match", "_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        #: The requirements, sorted by key as upstream keeps them.
        self.requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements, key=lambda requirement: requirement.key)
        )
        self._nothing = nothing
        self._match: _Matcher = (lambda _labels: False) if nothing else _compile(self.requirements)

    def matches(self, labels: Labels | None) -> bool:
        """Whether an object with these labels is selected."""
        return self._match(_NO_LABELS if labels is None else labels)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (Nothing is not empty)."""
        return not self.requirements and not self._nothing

    @property
    def nothing(self) -> bool:
        """True for the selector of a ``None`` LabelSelector, which selects nothing."""
        return self._nothing

    def exact_value(self, key: str) -> str | None:
        """Upstream RequiresExactMatch: the one value ``key`` must have, if the selector says.

        Only the first requirement on ``key`` counts, as upstream's does.
        """
        for requirement in self.requirements:
            if requirement.key == key:
                exact = requirement.operator in _EXACT and len(requirement.values) == 1
                return requirement.values[0] if exact else None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)

    def __repr__(self) -> str:
        return "Selector(nothing)" if self._nothing else f"Selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return (self._nothing, self.requirements) == (other._nothing, other.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


#: Selects every object (upstream labels.Everything()).
EVERYTHING = Selector()
#: Selects no object (upstream labels.Nothing()): what a ``None`` LabelSelector means.
NOTHING = Selector(nothing=True)


# --- The selector string parser (upstream labels.Parse) ----------------------


class _Token(enum.Enum):
    END = enum.auto()
    CLOSE = enum.auto()
    COMMA = enum.auto()
    NOT = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER = enum.auto()
    IDENTIFIER = enum.auto()
    IN = enum.auto()
    LESS = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN = enum.auto()


_SYMBOLS = {
    ")": _Token.CLOSE,
    ",": _Token.COMMA,
    "!": _Token.NOT,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER,
    "<": _Token.LESS,
    "!=": _Token.NOT_EQUALS,
    "(": _Token.OPEN,
}
_KEYWORDS = {"in": _Token.IN, "notin": _Token.NOT_IN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_NUL = "\0"
_BINARY_OPERATORS = {
    _Token.IN: Operator.IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.GREATER: Operator.GREATER_THAN,
    _Token.LESS: Operator.LESS_THAN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
}
_EXPECTED_OPERATOR = "in, notin, =, ==, !=, gt, lt"

_Lexeme = tuple[_Token, str]


def _lex(text: str) -> list[_Lexeme]:
    """Upstream's lexer, NUL included: Go reads a NUL byte as the end of input.

    A NUL where a token would start ends the selector; a NUL right after a
    token is swallowed, as upstream's byte reader does.
    """
    lexemes: list[_Lexeme] = []
    position, length = 0, len(text)
    while True:
        while position < length and text[position] in _WHITESPACE:
            position += 1
        if position == length or text[position] == _NUL:
            lexemes.append((_Token.END, ""))
            return lexemes
        start = position
        if text[position] in _SPECIAL:
            two = text[position : position + 2]
            literal = two if two in ("==", "!=") else text[position]
            token = _SYMBOLS[literal]
            position += len(literal)
        else:
            while position < length and not _ends_word(text[position]):
                position += 1
            literal = text[start:position]
            token = _KEYWORDS.get(literal, _Token.IDENTIFIER)
        if position < length and text[position] == _NUL:
            position += 1
        lexemes.append((token, literal))


def _ends_word(char: str) -> bool:
    return char in _SPECIAL or char in _WHITESPACE or char == _NUL


class _Parser:
    """Upstream's recursive descent over the lexemes, with its error texts.

    Upstream reads ``in`` and ``notin`` as identifiers everywhere but where an
    operator is expected, so ``in in (in)`` is a valid selector.
    """

    def __init__(self, text: str) -> None:
        self._lexemes = _lex(text)
        self._position = 0

    def _peek(self, *, operator: bool = False) -> _Lexeme:
        return self._as_context(self._lexemes[self._position], operator)

    def _next(self, *, operator: bool = False) -> _Lexeme:
        lexeme = self._lexemes[self._position]
        self._position += 1
        return self._as_context(lexeme, operator)

    @staticmethod
    def _as_context(lexeme: _Lexeme, operator: bool) -> _Lexeme:
        if not operator and lexeme[0] in (_Token.IN, _Token.NOT_IN):
            return _Token.IDENTIFIER, lexeme[1]
        return lexeme

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._peek()
            if token is _Token.END:
                return requirements
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise _SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self._requirement())
            except _SelectorError as error:
                raise _SelectorError(f"unable to parse requirement: {error}") from None
            token, literal = self._next()
            if token is _Token.END:
                return requirements
            if token is not _Token.COMMA:
                raise _SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self._peek()
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise _SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_implied_operator()
        if operator is not None:
            return _new_requirement(key, operator, ())
        token, literal = self._next(operator=True)
        operator = _BINARY_OPERATORS.get(token)
        if operator is None:
            raise _SelectorError(f"found '{literal}', expected: {_EXPECTED_OPERATOR}")
        values = self._value_set() if operator in (Operator.IN, Operator.NOT_IN) else self._value()
        return _new_requirement(key, operator, tuple(sorted(values)))

    def _key_and_implied_operator(self) -> tuple[str, Operator | None]:
        """The key, and Exists or DoesNotExist when no operator follows it."""
        token, literal = self._next()
        negated = token is _Token.NOT
        if negated:
            token, literal = self._next()
        if token is not _Token.IDENTIFIER:
            raise _SelectorError(f"found '{literal}', expected: identifier")
        problems = qualified_name_errors(literal)
        if problems:
            raise _SelectorError(_invalid("<nil>", go_quote(literal), "; ".join(problems)))
        if negated:
            return literal, Operator.DOES_NOT_EXIST
        if self._peek()[0] in (_Token.END, _Token.COMMA):
            return literal, Operator.EXISTS
        return literal, None

    def _value_set(self) -> set[str]:
        """``(a,b,,c)``: values in parentheses; empty entries are the empty value."""
        token, literal = self._next()
        if token is not _Token.OPEN:
            raise _SelectorError(f"found '{literal}' expected: '('")
        token, literal = self._peek()
        if token is _Token.CLOSE:
            self._next()
            return {""}
        if token not in (_Token.IDENTIFIER, _Token.COMMA):
            raise _SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifier_list()
        self._next()  # the ")" that ended the list
        return values

    def _identifier_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self._next()
            if token is _Token.IDENTIFIER:
                values.add(literal)
                following, following_literal = self._peek()
                if following is _Token.CLOSE:
                    return values
                if following is not _Token.COMMA:
                    raise _SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            elif token is _Token.COMMA:
                if not values:
                    values.add("")
                following = self._peek()[0]
                if following is _Token.CLOSE:
                    values.add("")
                    return values
                if following is _Token.COMMA:
                    self._next()
                    values.add("")
            else:
                raise _SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _value(self) -> set[str]:
        """The one value after ``=``, ``==``, ``!=``, ``>`` or ``<``; none is the empty value."""
        token, literal = self._peek()
        if token in (_Token.END, _Token.COMMA):
            return {""}
        token, literal = self._next()
        if token is not _Token.IDENTIFIER:
            raise _SelectorError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_label_selector(text: str) -> Selector:
    """A ``labelSelector`` query parameter, as kube-apiserver reads it.

    Raises ApiError 400 BadRequest with upstream's message, e.g.
    ``unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt``.
    """
    try:
        requirements = _Parser(text).parse()
    except _SelectorError as error:
        raise bad_request(str(error)) from None
    return Selector(requirements) if requirements else EVERYTHING


# --- LabelSelector objects (metav1.LabelSelector) ----------------------------


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """Upstream SelectorFromSet: ``key=value`` for each entry, not validated.

    ``None`` and ``{}`` select everything; callers for which a missing
    selector means "nothing" (a Service without one) check that themselves.
    """
    if not labels:
        return EVERYTHING
    return Selector(Requirement(key, Operator.EQUALS, (value,)) for key, value in labels.items())


def selector_from_label_selector(label_selector: Mapping[str, Any] | None) -> Selector:
    """Upstream LabelSelectorAsSelector: ``None`` selects nothing, ``{}`` everything.

    Raises ApiError 400 BadRequest with upstream's error text for what
    :func:`validate_label_selector` would have refused (objects are
    validated first, so servers rarely see it).
    """
    if label_selector is None:
        return NOTHING
    match_labels: Mapping[str, str] = label_selector.get("matchLabels") or {}
    expressions: list[Mapping[str, Any]] = label_selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    try:
        requirements = [
            _new_requirement(key, Operator.EQUALS, (value,)) for key, value in match_labels.items()
        ]
        requirements.extend(_expression_requirement(expression) for expression in expressions)
    except _SelectorError as error:
        raise bad_request(str(error)) from None
    return Selector(requirements)


def _expression_requirement(expression: Mapping[str, Any]) -> Requirement:
    name = expression.get("operator") or ""
    operator = _EXPRESSION_OPERATORS.get(name)
    if operator is None:
        raise _SelectorError(f"{go_quote(name)} is not a valid label selector operator")
    values = expression.get("values")
    return _new_requirement(
        expression.get("key") or "", operator, None if not values else tuple(values)
    )


def validate_label_selector(
    label_selector: Mapping[str, Any] | None,
    path: str,
    *,
    allow_invalid_label_values: bool = False,
) -> list[FieldError]:
    """Upstream ValidateLabelSelector: the errors of a LabelSelector at ``path``.

    ``allow_invalid_label_values`` is upstream's
    AllowInvalidLabelValueInSelector, for updates of objects stored before
    the values were checked.
    """
    if label_selector is None:
        return []
    errors = validate_labels(label_selector.get("matchLabels"), f"{path}.matchLabels")
    for index, expression in enumerate(label_selector.get("matchExpressions") or []):
        errors.extend(
            _expression_errors(
                expression, f"{path}.matchExpressions[{index}]", allow_invalid_label_values
            )
        )
    return errors


def _expression_errors(
    expression: Mapping[str, Any], path: str, allow_invalid_label_values: bool
) -> list[FieldError]:
    errors: list[FieldError] = []
    operator = expression.get("operator") or ""
    values: list[str] = expression.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            errors.append(required(f"{path}.values", detail))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errors.append(forbidden(f"{path}.values", detail))
    else:
        errors.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    key = expression.get("key") or ""
    errors.extend(invalid(f"{path}.key", key, message) for message in qualified_name_errors(key))
    if not allow_invalid_label_values:
        for index, value in enumerate(values):
            errors.extend(
                invalid(f"{path}.values[{index}]", value, message)
                for message in label_value_errors(value)
            )
    return errors
