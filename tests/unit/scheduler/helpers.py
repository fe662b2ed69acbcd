"""Running one plugin the way the framework would."""

from __future__ import annotations

from typing import Any

from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.status import Status


def run_filter(plugin: Any, pod: dict[str, Any], info: NodeInfo) -> Status:
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, pod, [info])
        if status.is_skip:
            return Status()
        if not status.is_success:
            return status
    return plugin.filter(state, pod, info)


def run_score(plugin: Any, pod: dict[str, Any], infos: list[NodeInfo]) -> dict[str, int]:
    state = CycleState()
    if hasattr(plugin, "pre_score"):
        assert plugin.pre_score(state, pod, infos).is_success
    scores = {info.name: plugin.score(state, pod, info) for info in infos}
    if hasattr(plugin, "normalize_scores"):
        plugin.normalize_scores(state, pod, scores)
    return scores
