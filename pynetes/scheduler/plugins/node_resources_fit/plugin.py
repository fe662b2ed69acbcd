"""NodeResourcesFit's Filter and Score (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    Handle,
    PreFilterResult,
)
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    Resource,
    is_scalar_resource,
    pod_requests,
)
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.node_resources_fit.args import (
    REQUESTED_TO_CAPACITY_RATIO,
    FitArgs,
    parse_args,
)
from pynetes.scheduler.plugins.node_resources_fit.scoring import (
    COLUMN_SCORERS as _COLUMN_SCORERS,
)
from pynetes.scheduler.plugins.node_resources_fit.scoring import scorer_for, weighted_score

NAME = "NodeResourcesFit"
REASON_TOO_MANY_PODS = "Too many pods"
_FILTER_KEY = f"PreFilter{NAME}"
_SCORE_KEY = f"PreScore{NAME}"

Object = dict[str, Any]


class NodeResourcesFit:
    name = NAME

    def __init__(self, args: FitArgs) -> None:
        self.args = args
        self._scorer = scorer_for(args)

    def events_to_register(self) -> list[ClusterEvent]:
        """Room appears when a pod goes away or a node comes or grows."""
        return [
            ClusterEvent("Pod", ActionType.DELETE),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE),
        ]

    def pre_filter(
        self, state: CycleState, pod: Object, _nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        state.write(_FILTER_KEY, pod_requests(pod))
        return None, st.success()

    def filter(self, state: CycleState, _pod: Object, node: NodeInfo) -> Status:
        reasons = insufficient_resources(state.read(_FILTER_KEY), node, self.args)
        return st.unschedulable(*reasons) if reasons else st.success()

    def pre_score(self, state: CycleState, pod: Object, _nodes: list[NodeInfo]) -> Status:
        state.write(_SCORE_KEY, (pod_requests(pod), pod_requests(pod, non_zero=True)))
        return st.success()

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        requests, non_zero = state.read(_SCORE_KEY)
        amounts = []
        for resource, weight in self.args.resources:
            requested, allocatable = _requested_and_allocatable(resource, requests, non_zero, node)
            amounts.append((requested, allocatable, weight))
        rounded = self.args.strategy == REQUESTED_TO_CAPACITY_RATIO
        return weighted_score(amounts, self._scorer, rounded)

    def filter_many(self, state: CycleState, _pod: Object, table: NodeTable) -> Mask | None:
        """:func:`insufficient_resources` for every node at once; None for a pod
        that requests extended resources (they are not in the table)."""
        request: Resource = state.read(_FILTER_KEY)
        if any(v > 0 and not self.args.ignores(r) for r, v in request.scalar.items()):
            return None
        fits: Mask = table.pod_count < table.allowed_pods
        for needed, allocatable, requested in (
            (request.milli_cpu, table.allocatable_cpu, table.requested_cpu),
            (request.memory, table.allocatable_memory, table.requested_memory),
            (
                request.ephemeral_storage,
                table.allocatable_ephemeral_storage,
                table.requested_ephemeral_storage,
            ),
        ):
            if needed > 0:
                fits &= needed <= allocatable - requested
        return fits

    def score_many(
        self, state: CycleState, _pod: Object, table: NodeTable, rows: Rows
    ) -> Column | None:
        """:meth:`score` for ``rows`` at once, for LeastAllocated and MostAllocated
        over cpu and memory (the defaults); None otherwise."""
        vectorised = _COLUMN_SCORERS.get(self.args.strategy)
        if vectorised is None or any(r not in (CPU, MEMORY) for r, _ in self.args.resources):
            return None
        _requests, non_zero = state.read(_SCORE_KEY)
        total = np.zeros(len(rows), dtype=np.int64)
        weights = np.zeros(len(rows), dtype=np.int64)
        for resource, weight in self.args.resources:
            if resource == CPU:
                requested = table.non_zero_cpu[rows] + non_zero.milli_cpu
                allocatable = table.allocatable_cpu[rows]
            else:
                requested = table.non_zero_memory[rows] + non_zero.memory
                allocatable = table.allocatable_memory[rows]
            present = allocatable != 0
            total += np.where(present, vectorised(requested, allocatable) * weight, 0)
            weights += np.where(present, weight, 0)
        return np.where(weights > 0, total // np.maximum(weights, 1), 0)


def insufficient_resources(request: Resource, node: NodeInfo, args: FitArgs) -> list[str]:
    """Upstream's fitsRequest: each resource the pod needs more of than is free,
    as "Insufficient <name>" (and "Too many pods" when the pod slots are taken)."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    if request.is_zero():
        return reasons
    free = node.allocatable.copy()
    free.subtract(node.requested)
    for resource, needed in (
        (CPU, request.milli_cpu),
        (MEMORY, request.memory),
        (EPHEMERAL_STORAGE, request.ephemeral_storage),
    ):
        if needed > 0 and needed > free.get(resource):
            reasons.append(f"Insufficient {resource}")
    for resource, needed in request.scalar.items():
        if needed > 0 and not args.ignores(resource) and needed > free.get(resource):
            reasons.append(f"Insufficient {resource}")
    return reasons


def _requested_and_allocatable(
    resource: str, requests: Resource, non_zero: Resource, node: NodeInfo
) -> tuple[int, int]:
    """What the node would have requested with the pod on it, and its allocatable.

    CPU and memory count best-effort containers at the defaults; an extended
    resource the pod does not ask for is left out of the score (0, 0).
    """
    if resource in (CPU, MEMORY):
        return (
            node.non_zero_requested.get(resource) + non_zero.get(resource),
            node.allocatable.get(resource),
        )
    wanted = requests.get(resource)
    if is_scalar_resource(resource) and wanted == 0:
        return 0, 0
    return node.requested.get(resource) + wanted, node.allocatable.get(resource)


def new(args: Mapping[str, Any] | None, _handle: Handle) -> NodeResourcesFit:
    return NodeResourcesFit(parse_args(args))
