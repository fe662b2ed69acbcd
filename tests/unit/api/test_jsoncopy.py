"""copy_json: an equal value that shares no dict or list with the original."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pynetes.api.jsoncopy import copy_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def containers(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [id(value), *(i for item in value.values() for i in containers(item))]
    if isinstance(value, list):
        return [id(value), *(i for item in value for i in containers(item))]
    return []


@given(json_values)
def test_a_copy_is_equal_and_shares_no_container(value: Any) -> None:
    copied = copy_json(value)
    assert copied == value
    assert not set(containers(copied)) & set(containers(value))


def test_changing_the_copy_leaves_the_original_alone() -> None:
    original = {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}
    copied = copy_json(original)
    copied["spec"]["containers"][0]["ports"].append({"containerPort": 81})
    assert original["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
