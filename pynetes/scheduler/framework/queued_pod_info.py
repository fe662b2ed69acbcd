"""A pod waiting in the scheduling queue, with its history there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynetes.scheduler.framework.node_info import pod_key, pod_priority

Object = dict[str, Any]


@dataclass
class QueuedPodInfo:
    """``timestamp`` is when the pod (re)entered the queue (the QueueSort tie-breaker);
    ``attempts`` counts scheduling attempts (the backoff's exponent);
    ``unschedulable_plugins`` names the plugins that rejected it last, so that
    only cluster events those plugins care about move it back."""

    pod: Object
    timestamp: float
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return pod_key(self.pod)

    @property
    def priority(self) -> int:
        return pod_priority(self.pod)
