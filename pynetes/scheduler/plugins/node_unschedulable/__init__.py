"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods that
tolerate the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import ActionType, ClusterEvent, Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Mask, NodeTable
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.taints import pod_tolerations, tolerated

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_REASON_UNKNOWN_CONDITION = "node(s) had unknown conditions"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = NAME

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)]

    def filter(self, _state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        if node.node is None:
            return st.unresolvable(ERR_REASON_UNKNOWN_CONDITION)
        if not (node.node.get("spec") or {}).get("unschedulable"):
            return st.success()
        if tolerated(UNSCHEDULABLE_TAINT, pod_tolerations(pod)):
            return st.success()
        return st.unresolvable(ERR_REASON_UNSCHEDULABLE)

    def filter_many(self, state: CycleState, pod: dict[str, Any], table: NodeTable) -> Mask:
        """Only cordoned nodes (and infos without a Node) are looked at one by one."""
        return table.exact(
            table.unschedulable, lambda info: self.filter(state, pod, info).is_success
        )


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable()
