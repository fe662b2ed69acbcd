"""Data plugins pass themselves between extension points within one cycle.

A PreFilter computes what its Filter needs once per pod, not once per node,
and stores it here under its own key; ``skip_filter`` and ``skip_score`` hold
the plugins whose PreFilter/PreScore said Skip, so the runner passes them by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CycleState:
    """Per-cycle storage: ``write(key, value)``, ``read(key)`` (KeyError if absent)."""

    data: dict[str, Any] = field(default_factory=dict)
    skip_filter: set[str] = field(default_factory=set)
    skip_score: set[str] = field(default_factory=set)

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value

    def read(self, key: str) -> Any:
        return self.data[key]
