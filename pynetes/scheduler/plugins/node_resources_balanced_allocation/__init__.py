"""NodeResourcesBalancedAllocation: favour nodes whose resources would be used
evenly with the pod on them, so that no node runs out of one resource while
plenty of another is left idle.

The score is upstream's: each resource's used fraction (requested with the
pod over allocatable, capped at 1), then ``(1 - std) * MAX_NODE_SCORE`` where
std is the standard deviation of those fractions (for two resources,
``|a - b| / 2``). Actual requests count, not the best-effort defaults
NodeResourcesFit scores with; a resource the node has none of, or an
extended resource the pod does not ask for, is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Column, NodeTable, Rows
from pynetes.scheduler.framework.resources import (
    CPU,
    MEMORY,
    Resource,
    is_scalar_resource,
    pod_requests,
)
from pynetes.scheduler.framework.status import Status

NAME = "NodeResourcesBalancedAllocation"
DEFAULT_RESOURCES = (CPU, MEMORY)
_STATE_KEY = f"PreScore{NAME}"

Object = dict[str, Any]


class BalancedAllocation:
    name = NAME

    def __init__(self, resources: tuple[str, ...] = DEFAULT_RESOURCES) -> None:
        self.resources = resources

    def pre_score(self, state: CycleState, pod: Object, _nodes: list[NodeInfo]) -> Status:
        state.write(_STATE_KEY, pod_requests(pod))
        return st.success()

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        return balanced_score(self._fractions(state.read(_STATE_KEY), node))

    def score_many(
        self, state: CycleState, _pod: Object, table: NodeTable, rows: Rows
    ) -> Column | None:
        """:meth:`score` for ``rows`` at once over cpu and memory (the default
        resources; None for others): the same float steps, so the same scores."""
        if self.resources != (CPU, MEMORY):
            return None
        requests: Resource = state.read(_STATE_KEY)
        fractions = []
        for requested, allocatable, wanted in (
            (table.requested_cpu, table.allocatable_cpu, requests.milli_cpu),
            (table.requested_memory, table.allocatable_memory, requests.memory),
        ):
            free = allocatable[rows]
            present = free != 0
            used = np.minimum((requested[rows] + wanted) / np.where(present, free, 1), 1.0)
            fractions.append((used, present))
        (cpu, has_cpu), (memory, has_memory) = fractions
        std = np.where(has_cpu & has_memory, np.abs(cpu - memory) / 2, 0.0)
        return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)

    def _fractions(self, requests: Resource, node: NodeInfo) -> list[float]:
        fractions = []
        for resource in self.resources:
            wanted = requests.get(resource)
            allocatable = node.allocatable.get(resource)
            if allocatable == 0 or (wanted == 0 and is_scalar_resource(resource)):
                continue
            fractions.append(min((node.requested.get(resource) + wanted) / allocatable, 1.0))
        return fractions


def balanced_score(fractions: list[float]) -> int:
    """``(1 - std) * MAX_NODE_SCORE``, truncated, of the used ``fractions``."""
    std = 0.0
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


def parse_resources(args: Mapping[str, Any] | None) -> tuple[str, ...]:
    """NodeResourcesBalancedAllocationArgs' resources, validated as upstream:
    names unique and every weight 1 (weights play no part in the formula)."""
    items = (args or {}).get("resources") or []
    names: list[str] = []
    for i, item in enumerate(items):
        name = str(item.get("name") or "")
        if not name:
            raise ValueError(f"resources[{i}].name: Required value")
        if name in names:
            raise ValueError(f'resources[{i}].name: Duplicate value: "{name}"')
        weight = item.get("weight", 1)
        if weight != 1:
            raise ValueError(f"resources[{i}].weight: Invalid value: {weight}: must be 1")
        names.append(name)
    return tuple(names) or DEFAULT_RESOURCES


def new(args: Mapping[str, Any] | None, _handle: Handle) -> BalancedAllocation:
    return BalancedAllocation(parse_resources(args))
