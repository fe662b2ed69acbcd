"""A deep copy of a JSON-shaped value (dicts, lists and immutable scalars).

``copy.deepcopy`` keeps a memo of every object it copies and asks each for its
copier: three times the time of this walk for a pod, and the patch paths copy
every stored object they patch. Values other than dicts and lists are shared,
which is safe for JSON's scalars (str, int, float, bool, None).
"""

from __future__ import annotations

from typing import Any


def copy_json(value: Any) -> Any:
    """A copy of ``value`` sharing no dict or list with it."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    return value
