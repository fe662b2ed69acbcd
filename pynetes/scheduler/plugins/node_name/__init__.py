"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import ActionType, ClusterEvent, Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Mask, NodeTable
from pynetes.scheduler.framework.status import Status

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)]

    def filter(self, _state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if not wanted or wanted == node.name:
            return st.success()
        return st.unresolvable(ERR_REASON)

    def filter_many(self, _state: CycleState, pod: dict[str, Any], table: NodeTable) -> Mask:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if not wanted:
            return np.ones(len(table), dtype=np.bool_)
        return np.array([info.name == wanted for info in table.infos], dtype=np.bool_)


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> NodeName:
    return NodeName()
