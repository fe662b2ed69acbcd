"""JSON values printed as Go prints them, for CRD columns of type string.

client-go's jsonpath prints a scalar with ``fmt.Print`` and a map or list
with ``json.Marshal``. Both differ from Python: ``fmt`` writes 1e+06 for a
million and 1 for 1.0; ``json.Marshal`` sorts map keys, writes no spaces,
escapes ``<``, ``>`` and ``&``, and prints floats without ``.0``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def text(value: Any) -> str:
    """``fmt.Print`` of a scalar, ``json.Marshal`` of a map or list."""
    if isinstance(value, dict | list):
        return marshal(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _print_float(value)
    return str(value)


def marshal(value: Any) -> str:
    """Go's ``json.Marshal`` of a decoded JSON value."""
    if isinstance(value, dict):
        members = (f"{_string(key)}:{marshal(value[key])}" for key in sorted(value))
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(marshal(item) for item in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float):
        return _json_float(value)
    return json.dumps(value)


def _string(value: str) -> str:
    encoded = json.dumps(value, ensure_ascii=False)
    for char, escape in _HTML_ESCAPES.items():
        encoded = encoded.replace(char, escape)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _digits(value: float) -> tuple[str, str, int]:
    """Sign, shortest significant digits, and the decimal exponent of the first digit."""
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return ("-" if sign else ""), stripped.rstrip("0"), point - 1


def _print_float(value: float) -> str:
    """``fmt.Print`` (``%v``, shortest ``%g``): exponent form below 1e-4 and from 1e+06."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = _digits(value)
    if exponent < -4 or exponent >= 6:
        return sign + _exponent_form(digits, exponent, pad=True)
    return sign + _plain_form(digits, exponent)


def _json_float(value: float) -> str:
    """``json.Marshal`` of a float: exponent form below 1e-6 and from 1e21."""
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = _digits(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return sign + _exponent_form(digits, exponent, pad=exponent >= 0)
    return sign + _plain_form(digits, exponent)


def _exponent_form(digits: str, exponent: int, *, pad: bool) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    magnitude = f"{abs(exponent):02d}" if pad else str(abs(exponent))
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{magnitude}"


def _plain_form(digits: str, exponent: int) -> str:
    point = exponent + 1
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return f"{digits[:point]}.{digits[point:]}"
