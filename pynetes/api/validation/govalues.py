"""Bad values shown as upstream shows them: Go's ``%#v`` of maps, slices and structs.

Upstream's field errors print a map or struct value with Go's ``%#v``, and
users meet those texts daily: ``Invalid value: map[string]string{"app":"web"}:
`selector` does not match template `labels```. :class:`GoValueError` is a
:class:`FieldError` whose value is such a pre-rendered text, printed as is;
the ``go_*`` functions render the few Go types these messages carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.errors import FieldError, FieldErrorType
from pynetes.api.gofmt import go_quote, go_string_slice


@dataclass(frozen=True)
class GoValueError(FieldError):
    """A field error whose ``value`` is Go ``%#v`` text, printed unquoted."""

    def body(self) -> str:
        text = f"{self.type.text}: {self.value}"
        return f"{text}: {self.detail}" if self.detail else text


def invalid_go(field: str, literal: str, detail: str) -> FieldError:
    return GoValueError(FieldErrorType.INVALID, field, literal, detail)


def duplicate_go(field: str, literal: str, detail: str = "") -> FieldError:
    return GoValueError(FieldErrorType.DUPLICATE, field, literal, detail)


def not_supported_go(field: str, literal: str, supported: Iterable[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(option) for option in supported)
    return GoValueError(FieldErrorType.NOT_SUPPORTED, field, literal, detail)


def go_string_map(values: Mapping[str, Any] | None) -> str:
    """``map[string]string{"a":"1", "b":"2"}``: keys sorted, as fmt prints maps."""
    if values is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(key)}:{go_quote(str(values[key]))}" for key in sorted(values))
    return "map[string]string{" + items + "}"


def go_label_selector(selector: Mapping[str, Any]) -> str:
    """A ``metav1.LabelSelector`` as ``v1.LabelSelector{MatchLabels:..., MatchExpressions:...}``."""
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        rendered = (
            "[]v1.LabelSelectorRequirement{"
            + ", ".join(_go_requirement(expression) for expression in expressions)
            + "}"
        )
    return (
        f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
        f"MatchExpressions:{rendered}}}"
    )


def _go_requirement(requirement: Mapping[str, Any]) -> str:
    return (
        f"v1.LabelSelectorRequirement{{Key:{go_quote(requirement.get('key', ''))}, "
        f"Operator:{go_quote(requirement.get('operator', ''))}, "
        f"Values:{go_string_slice(requirement.get('values'))}}}"
    )


def go_int_or_string(value: int | str) -> str:
    """``intstr.IntOrString{Type:0, IntVal:5, StrVal:""}``: 1.31 has no String() for values."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    return f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}'


def go_struct(type_name: str, fields: Iterable[tuple[str, str]]) -> str:
    """``pkg.Type{Field:value, ...}`` from already-rendered field values."""
    return type_name + "{" + ", ".join(f"{name}:{value}" for name, value in fields) + "}"
