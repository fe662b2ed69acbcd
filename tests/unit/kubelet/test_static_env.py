"""Probe commands see the container's literal env values only."""

from __future__ import annotations

from pynetes.kubelet.env import static_env


def test_static_env_has_only_literal_values() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {}}}]
    assert static_env(env) == {"A": "1", "B": ""}
    assert static_env(None) == {}
