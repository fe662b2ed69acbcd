"""Small helpers the defaulters share, in Go's terms.

A Go pointer field is defaulted when nil (absent or null here); a plain
string or number field when it holds its zero value ("" or 0) too. The
defaulters work on the private copy :func:`pynetes.api.defaults.apply_defaults`
made, so they change the dicts they are given in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]


def default_pointer(obj: Obj, key: str, value: Any) -> None:
    """Set ``key`` when absent or null (a Go pointer that is nil)."""
    if obj.get(key) is None:
        obj[key] = value


def default_zero(obj: Obj, key: str, value: Any) -> None:
    """Set ``key`` when absent, null, "" or 0 (a Go value that is zero)."""
    current = obj.get(key)
    if current is None or current == "" or (current == 0 and current is not False):
        obj[key] = value


def struct(obj: Obj, key: str) -> Obj:
    """The dict at ``key``, made empty when missing: a Go struct that is not a pointer.

    Upstream always has such a field, so its defaults apply even when the
    request left it out.
    """
    found = obj.get(key)
    if not isinstance(found, dict):
        found = obj[key] = {}
    return found


def dicts(value: Any) -> Iterator[Obj]:
    """The dict items of a list (nothing for anything else)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def template_metadata(template: Obj) -> None:
    """An embedded ObjectMeta as upstream serialises it: ``creationTimestamp: null``.

    metav1.Time has no ``omitempty``, so the zero time of a template's
    metadata comes back as null in every object upstream returns.
    """
    metadata = struct(template, "metadata")
    metadata.setdefault("creationTimestamp", None)
