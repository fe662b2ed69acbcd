"""``$(VAR)`` expansion with upstream's rules."""

from __future__ import annotations

import pytest

from pynetes.kubelet.expansion import expand, static_env

VARIABLES = {"A": "x", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(A)", "x"),
        ("a$(A)b$(A)", "axbx"),
        ("$(EMPTY)", ""),
        ("$(UNDEFINED)", "$(UNDEFINED)"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$x"),
        ("$(A", "$(A"),
        ("$A", "$A"),
        ("cost: 5$", "cost: 5$"),
    ],
)
def test_expands_as_upstream(text: str, expanded: str) -> None:
    assert expand(text, VARIABLES) == expanded


def test_static_env_has_only_literal_values() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {}}}]
    assert static_env(env) == {"A": "1", "B": ""}
    assert static_env(None) == {}
