"""JSON text spelled as Go's ``encoding/json`` spells it.

Field sets name list items by JSON (``k:{"name":"web"}``) and the
last-applied annotation is JSON text; both are compared as strings by
clients and by upstream, so the spelling matters: keys sorted, no spaces,
``<``, ``>`` and ``&`` escaped as ``\\u003c``... (Go escapes HTML by
default), and whole floats written without a fraction (Go prints
``float64(80)`` as ``80``).
"""

from __future__ import annotations

from typing import Any

import orjson

_GO_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)
_LARGEST_PLAIN_FLOAT = 1e21  # Go switches to exponent notation from here on


def dumps(value: Any) -> str:
    """``value`` as compact JSON text, keys sorted, escaped like Go."""
    return (
        orjson.dumps(_go_numbers(value), option=orjson.OPT_SORT_KEYS)
        .decode()
        .translate(_GO_ESCAPES)
    )


def _go_numbers(value: Any) -> Any:
    """The value with whole floats as ints, so they print as Go prints them."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _LARGEST_PLAIN_FLOAT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value
