"""NodePorts: a pod that asks for host ports fits only nodes where none of them
is taken (upstream's HostPortInfo.CheckConflict: the wildcard address 0.0.0.0
conflicts with every address on the same protocol and port)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    Handle,
    PreFilterResult,
)
from pynetes.scheduler.framework.node_info import HostPort, NodeInfo, host_ports
from pynetes.scheduler.framework.status import Status

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
WILDCARD_IP = "0.0.0.0"
_STATE_KEY = f"PreFilter{NAME}"

Object = dict[str, Any]


class NodePorts:
    name = NAME

    def events_to_register(self) -> list[ClusterEvent]:
        """A port frees up when a pod goes away; a new or changed node may be free."""
        return [
            ClusterEvent("Pod", ActionType.DELETE),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE),
        ]

    def pre_filter(
        self, state: CycleState, pod: Object, _nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """Skip pods without host ports (most pods), so their Filter costs nothing."""
        wanted = host_ports(pod)
        if not wanted:
            return None, st.skip()
        state.write(_STATE_KEY, wanted)
        return None, st.success()

    def filter(self, state: CycleState, _pod: Object, node: NodeInfo) -> Status:
        wanted: list[HostPort] = state.read(_STATE_KEY)
        if any(conflicts(port, node.used_ports) for port in wanted):
            return st.unschedulable(ERR_REASON)
        return st.success()


def conflicts(port: HostPort, used: Mapping[HostPort, int]) -> bool:
    """Whether ``port`` collides with one in ``used`` (same protocol and number,
    and the same address or either one the wildcard)."""
    if port.ip == WILDCARD_IP:
        return any(other.port == port.port and other.protocol == port.protocol for other in used)
    return port in used or HostPort(WILDCARD_IP, port.protocol, port.port) in used


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> NodePorts:
    return NodePorts()
