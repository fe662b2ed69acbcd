"""PrioritySort: the queue serves higher-priority pods first, then the longest waiting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """Higher ``spec.priority`` first; equal priorities by the time they were queued."""
        if a.priority != b.priority:
            return a.priority > b.priority
        return a.timestamp < b.timestamp


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> PrioritySort:
    return PrioritySort()
