"""An update's comparison skips the parts that did not change (``same_json``) and
finds exactly what the full walk finds.

Pairs of random objects share most of their parts, as an update and the object it
replaces do: each field of the new one is the old one's, another random value, or
the old value with ``true`` and ``1`` swapped somewhere (equal to Python, not to JSON).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api.fieldmanager import compare as comparing
from pynetes.api.fieldmanager.typed import SchemaError
from tests.unit.api.test_fieldmanager_created import KINDS, NAMES, objects, values


def swap_truth(value: Any) -> Any:
    """``value`` with every ``True`` made ``1`` and every ``1`` made ``True``."""
    if isinstance(value, dict):
        return {key: swap_truth(item) for key, item in value.items()}
    if isinstance(value, list):
        return [swap_truth(item) for item in value]
    if value is True:
        return 1
    if value == 1 and not isinstance(value, bool):
        return True
    return value


@st.composite
def updates(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(objects)
    new: dict[str, Any] = {}
    for name, value in old.items():
        change = draw(st.sampled_from(["same", "same", "other", "swap", "drop"]))
        if change == "same":
            new[name] = value
        elif change == "other":
            new[name] = draw(values)
        elif change == "swap":
            new[name] = swap_truth(value)
    new.update(draw(st.dictionaries(st.sampled_from(NAMES), values, max_size=2)))
    return old, new


def walked(old: Any, new: Any, kind: str) -> list[list[tuple[str, ...]]] | None:
    """The paths removed, modified and added; None when an item had no name."""
    try:
        result = comparing.compare(old, new, KINDS[kind])
    except SchemaError:
        return None
    return [sorted(found.paths()) for found in (result.removed, result.modified, result.added)]


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), pair=updates())
def test_skipping_unchanged_parts_finds_what_the_full_walk_finds(
    kind: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    old, new = pair
    skipping = walked(old, new, kind)
    with mock.patch.object(comparing, "same_json", return_value=False):
        full = walked(old, new, kind)
    if skipping is None:
        assert full is None
    elif full is not None:  # an unnamed item inside an unchanged part is not looked at
        assert skipping == full
