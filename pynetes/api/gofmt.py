"""Go's ``fmt`` renderings of strings and string slices, as upstream's messages carry them.

Upstream builds its error texts with ``%q`` and ``%#v``, and clients (and
people) compare them with what kube-apiserver prints: ``Unsupported value:
[]string{"Some"}``. These are the one place pynetes renders them; every
message that quotes a Go value goes through here.
"""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
_ESCAPES |= {"\v": r"\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote): printable characters as they are, the rest escaped."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def go_string_slice(values: Iterable[str] | None) -> str:
    """Go's ``%#v`` of a ``[]string``: ``[]string{"a", "b"}``; ``None`` is a nil slice."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(value) for value in values) + "}"


def go_value_slice(values: Iterable[str]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[sh -c exit 3]``."""
    return "[" + " ".join(values) + "]"
