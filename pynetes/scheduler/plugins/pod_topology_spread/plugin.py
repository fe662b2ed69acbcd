"""PodTopologySpread's extension points (see the package's docstring)."""

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
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.snapshot import table_for
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.pod_topology_spread.args import SpreadArgs, parse_args
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
    Constraint,
    default_constraints,
    has_own_constraints,
    pod_constraints,
)
from pynetes.scheduler.plugins.pod_topology_spread.defaults import (
    WorkloadListers,
    default_selector,
)
from pynetes.scheduler.plugins.pod_topology_spread.filtering import (
    FilterState,
    filter_node,
    filter_rows,
    pre_filter_state,
)
from pynetes.scheduler.plugins.pod_topology_spread.scoring import (
    ScoreState,
    normalize,
    normalize_rows,
    pre_score_state,
    score_node,
    score_rows,
)

NAME = "PodTopologySpread"
_FILTER_KEY = f"PreFilter{NAME}"
_SCORE_KEY = f"PreScore{NAME}"

Object = dict[str, Any]


class PodTopologySpread:
    name = NAME

    def __init__(
        self, args: SpreadArgs, handle: Handle, listers: WorkloadListers | None = None
    ) -> None:
        self.args = args
        self._handle = handle
        self._listers = listers

    def events_to_register(self) -> list[ClusterEvent]:
        """Any pod coming, going or relabelled changes the counts; a node's labels its domain."""
        return [ClusterEvent("Pod", ActionType.ALL), ClusterEvent("Node", ActionType.ALL)]

    def pre_filter(
        self, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """Skip pods without DoNotSchedule constraints; count the others' domains once."""
        constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, st.skip()
        table = table_for(self._handle.snapshot(), nodes)
        state.write(_FILTER_KEY, pre_filter_state(pod, constraints, table))
        return None, st.success()

    def filter(self, state: CycleState, _pod: Object, node: NodeInfo) -> Status:
        filter_state: FilterState = state.read(_FILTER_KEY)
        return filter_node(filter_state, node)

    def add_pod(self, state: CycleState, pod: Object, added: PodInfo, node: NodeInfo) -> None:
        """A what-if puts ``added`` on ``node`` (a nominated pod, a reprieved victim)."""
        filter_state: FilterState = state.read(_FILTER_KEY)
        if node.node is not None:
            filter_state.with_pod(pod, added.pod, node.node, 1)

    def remove_pod(self, state: CycleState, pod: Object, removed: PodInfo, node: NodeInfo) -> None:
        """A what-if takes ``removed`` off ``node`` (a preemption victim)."""
        filter_state: FilterState = state.read(_FILTER_KEY)
        if node.node is not None:
            filter_state.with_pod(pod, removed.pod, node.node, -1)

    def filter_many(self, state: CycleState, _pod: Object, table: NodeTable) -> Mask | None:
        filter_state: FilterState = state.read(_FILTER_KEY)
        return filter_rows(filter_state, table)

    def pre_score(self, state: CycleState, pod: Object, nodes: list[NodeInfo]) -> Status:
        """Skip pods without ScheduleAnyway constraints; count the feasible nodes'
        domains over the whole snapshot once."""
        constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        snapshot = self._handle.snapshot()
        if not constraints or not nodes or not len(snapshot):
            return st.skip()
        require_all_keys = has_own_constraints(pod) or not self.args.system_defaulted
        state.write(
            _SCORE_KEY, pre_score_state(pod, constraints, nodes, snapshot.table(), require_all_keys)
        )
        return st.success()

    def _constraints(self, pod: Object, action: str) -> list[Constraint]:
        """The pod's own constraints for ``action``; for a pod without any, the
        defaults, counting the pods of its Services and controller (none when
        nothing selects it: it has no group to spread from)."""
        if has_own_constraints(pod):
            return pod_constraints(pod, action)
        items = self.args.default_constraints
        if not any(item.get("whenUnsatisfiable") == action for item in items):
            return []
        selector = default_selector(pod, self._listers)
        if selector.empty:
            return []
        return default_constraints(pod, items, action, selector)

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        score_state: ScoreState = state.read(_SCORE_KEY)
        return score_node(score_state, node)

    def score_many(
        self, state: CycleState, _pod: Object, table: NodeTable, rows: Rows
    ) -> Column | None:
        score_state: ScoreState = state.read(_SCORE_KEY)
        return score_rows(score_state, table, rows)

    def normalize_scores(self, state: CycleState, _pod: Object, scores: dict[str, int]) -> None:
        normalize(state.read(_SCORE_KEY), scores)

    def normalize_many(self, state: CycleState, _pod: Object, scores: Column) -> Column:
        return normalize_rows(state.read(_SCORE_KEY), scores)


def new(args: Mapping[str, Any] | None, handle: Handle) -> PodTopologySpread:
    """With default constraints, the plugin watches Services and controllers
    through the scheduler's informers (without informers, as in unit tests,
    nothing selects a pod and the defaults never apply)."""
    parsed = parse_args(args)
    listers = None
    if parsed.default_constraints and handle.informers is not None:
        listers = WorkloadListers.from_informers(handle.informers)
    return PodTopologySpread(parsed, handle, listers)
