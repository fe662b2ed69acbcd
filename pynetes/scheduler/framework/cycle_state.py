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

    def clone(self) -> CycleState:
        """A copy for a what-if (preemption's dry runs, nominated pods): values
        with a ``clone`` method are cloned, others shared, as upstream's
        StateData.Clone; so a plugin whose PreFilter extensions change its
        state must give that state a ``clone``."""
        data = {
            key: value.clone() if hasattr(value, "clone") else value
            for key, value in self.data.items()
        }
        return CycleState(data, set(self.skip_filter), set(self.skip_score))
