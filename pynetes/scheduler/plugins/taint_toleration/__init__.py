"""TaintToleration: NoSchedule and NoExecute taints keep out pods that do not
tolerate them; PreferNoSchedule taints only lower the node's score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import ActionType, ClusterEvent, Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.normalize import (
    default_normalize_column,
    default_normalize_score,
)
from pynetes.scheduler.plugins.helpers.taints import (
    first_untolerated,
    node_taints,
    pod_tolerations,
    tolerated,
)

NAME = "TaintToleration"
_FILTER_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_STATE_KEY = f"PreScore{NAME}"

Object = dict[str, Any]


class TaintToleration:
    name = NAME

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)]

    def filter(self, _state: CycleState, pod: Object, node: NodeInfo) -> Status:
        taint = first_untolerated(node_taints(node.node), pod_tolerations(pod), _FILTER_EFFECTS)
        if taint is None:
            return st.success()
        return st.unresolvable(
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"
        )

    def pre_score(self, state: CycleState, pod: Object, _nodes: list[NodeInfo]) -> Status:
        """Keep the tolerations that matter to PreferNoSchedule (effect empty or that)."""
        relevant = [
            toleration
            for toleration in pod_tolerations(pod)
            if (toleration.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"
        ]
        state.write(_STATE_KEY, relevant)
        return st.success()

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        """How many PreferNoSchedule taints the pod does not tolerate (fewer is better)."""
        tolerations = state.read(_STATE_KEY)
        return sum(
            1
            for taint in node_taints(node.node)
            if taint.get("effect") == "PreferNoSchedule" and not tolerated(taint, tolerations)
        )

    def normalize_scores(self, _state: CycleState, _pod: Object, scores: dict[str, int]) -> None:
        default_normalize_score(scores, reverse=True)

    def filter_many(self, state: CycleState, pod: Object, table: NodeTable) -> Mask:
        """Only nodes with NoSchedule or NoExecute taints are looked at one by one."""
        return table.exact(table.hard_taints, lambda info: self.filter(state, pod, info).is_success)

    def score_many(self, state: CycleState, pod: Object, table: NodeTable, rows: Rows) -> Column:
        """0 for nodes without PreferNoSchedule taints; the others one by one."""
        scores = np.zeros(len(rows), dtype=np.int64)
        for index in np.flatnonzero(table.soft_taints[rows]).tolist():
            scores[index] = self.score(state, pod, table.infos[rows[index]])
        return scores

    def normalize_many(self, _state: CycleState, _pod: Object, scores: Column) -> Column:
        return default_normalize_column(scores, reverse=True)


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> TaintToleration:
    return TaintToleration()
