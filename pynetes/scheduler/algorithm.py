"""One scheduling decision: filter the snapshot's nodes, score the feasible ones,
pick the best (upstream's schedulePod, findNodesThatFitPod, prioritizeNodes,
selectHost).

Only enough feasible nodes are looked for (:func:`feasible_nodes_to_find`),
starting where the previous cycle stopped, so large clusters are sampled
fairly. The outcome keeps every verdict and score, for messages and for
explaining decisions afterwards; when the filters judged every node at once,
a rejected node's status is only worked out if someone reads it
(:class:`RejectedStatuses`).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Mask, Rows
from pynetes.scheduler.framework.runtime import Framework, NodeScores, ScoreColumns
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.nominator import nominated_node_name

Object = dict[str, Any]

#: Told how long each extension point took: (point, status, profile, seconds).
Observer = Callable[[str, Status, str, float], None]

#: Upstream's minFeasibleNodesToFind and minFeasibleNodesPercentageToFind.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
FILTERED_BY_PRE_FILTER = "node(s) didn't satisfy plugin(s) PreFilter result"


def feasible_nodes_to_find(all_nodes: int, percentage: int) -> int:
    """How many feasible nodes to look for before scoring.

    Small clusters (< 100 nodes) are searched whole. Otherwise ``percentage``
    of them, 0 meaning upstream's adaptive 50 - nodes/125 (at least 5 %),
    and never fewer than 100.
    """
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return all_nodes
    if percentage <= 0:
        percentage = max(50 - all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return all_nodes
    return max(all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class RejectedStatuses(Mapping[str, Status]):
    """The Filter statuses of ``nodes``, which the vectorised filters rejected,
    each worked out node by node (:meth:`Framework.run_filter`) when first
    read: a cycle that finds a node never reads them, and at 5,000 nodes the
    hundreds of per-node calls cost more than the decision.

    Holds the cycle's state and the node infos it judged; the snapshot
    replaces an info when its node changes rather than changing it, so a
    later read (an explanation) still gives the cycle's verdict.
    """

    def __init__(
        self, framework: Framework, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> None:
        self._judge = framework.run_filter
        self._state = state
        self._pod = pod
        self._nodes = nodes
        self._by_name: dict[str, NodeInfo] = {}
        self._known: dict[str, Status] = {}

    def __getitem__(self, name: str) -> Status:
        status = self._known.get(name)
        if status is None:
            if not self._by_name:
                self._by_name = {node.name: node for node in self._nodes}
            node = self._by_name[name]
            status = self._known[name] = self._judge(self._state, self._pod, node)
        return status

    def __iter__(self) -> Iterator[str]:
        return (node.name for node in self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


@dataclass
class Diagnosis:
    """Why nodes were rejected: each node's status, or the PreFilter's."""

    statuses: Mapping[str, Status] = field(default_factory=dict)
    pre_filter: Status | None = None
    evaluated: int = 0

    @property
    def unschedulable_plugins(self) -> set[str]:
        found = {status.plugin for status in self.statuses.values() if status.plugin}
        if self.pre_filter is not None and self.pre_filter.plugin:
            found.add(self.pre_filter.plugin)
        return found


@dataclass
class Outcome:
    """The chosen node (None if none fits), with the evidence."""

    node: str | None
    diagnosis: Diagnosis
    scores: Mapping[str, NodeScores] = field(default_factory=dict)
    error: str = ""


def _ignore(_point: str, _status: Status, _profile: str, _seconds: float) -> None:
    pass


class Algorithm:
    """Remembers where the last search stopped; one per scheduler.

    ``observe`` is told the duration of PreFilter, Filter (the whole loop),
    PreScore and Score in each cycle, for the extension point metrics.
    """

    def __init__(self, rng: random.Random | None = None, observe: Observer = _ignore) -> None:
        self._next_start = 0
        self._random = rng or random.Random()
        self._observe = observe

    def schedule(
        self,
        framework: Framework,
        state: CycleState,
        pod: Object,
        snapshot: Snapshot,
        percentage: int,
    ) -> Outcome:
        nodes = snapshot.list()
        if not nodes:
            return Outcome(None, Diagnosis(), error=NO_NODES_AVAILABLE)
        diagnosis = Diagnosis()
        profile = framework.profile_name
        began = time.perf_counter()
        result, status = framework.run_pre_filter(state, pod, nodes)
        began = self._timed("PreFilter", status, profile, began)
        if status.code == st.Code.ERROR:
            return Outcome(None, diagnosis, error=status.message)
        if not status.is_success:
            diagnosis.pre_filter = status
            return Outcome(None, diagnosis)
        feasible = self._nominated_node(framework, state, pod, snapshot)
        if not feasible:
            # Pods nominated by preemption count on their nodes only node by node.
            verdicts = None
            if result.node_names is None and not framework.nominator:
                verdicts = framework.run_filter_many(state, pod, snapshot.table())
            if verdicts is not None:
                return self._schedule_vectorised(
                    framework, state, pod, snapshot, verdicts, diagnosis, percentage, began
                )
            feasible = self._filter(
                framework, state, pod, nodes, result.node_names, diagnosis, percentage
            )
        filtered = st.success() if feasible else st.unschedulable()
        began = self._timed("Filter", filtered, profile, began)
        if not feasible:
            return Outcome(None, diagnosis)
        if len(feasible) == 1:
            return Outcome(feasible[0].name, diagnosis)
        status = framework.run_pre_score(state, pod, feasible)
        began = self._timed("PreScore", status, profile, began)
        if not status.is_success:
            return Outcome(None, diagnosis, error=status.message)
        scores = framework.run_score(state, pod, feasible)
        self._timed("Score", st.success(), profile, began)
        return Outcome(self._select(scores), diagnosis, scores)

    @staticmethod
    def _nominated_node(
        framework: Framework, state: CycleState, pod: Object, snapshot: Snapshot
    ) -> list[NodeInfo]:
        """The node preemption nominated the pod to, alone, if it fits now
        (upstream's evaluateNominatedNode): it is where room was made for it."""
        name = nominated_node_name(pod)
        node = snapshot.get(name) if name else None
        if node is None:
            return []
        status = framework.run_filter_with_nominated_pods(state, pod, node)
        return [node] if status.is_success else []

    def _schedule_vectorised(
        self,
        framework: Framework,
        state: CycleState,
        pod: Object,
        snapshot: Snapshot,
        verdicts: tuple[Mask, frozenset[str]],
        diagnosis: Diagnosis,
        percentage: int,
        began: float,
    ) -> Outcome:
        """:meth:`schedule` once every Filter judged every node in one step:
        the same nodes are found feasible, evaluated and scored as node by
        node; only ties are broken with a different draw of the random source."""
        profile = framework.profile_name
        nodes = snapshot.list()
        passing, rest = verdicts
        if rest:
            rows = self._feasible_rows_mixed(
                framework, state, pod, nodes, passing, rest, diagnosis, percentage
            )
        else:
            rows = self._feasible_rows(framework, state, pod, nodes, passing, diagnosis, percentage)
        began = self._timed(
            "Filter", st.success() if len(rows) else st.unschedulable(), profile, began
        )
        if not len(rows):
            return Outcome(None, diagnosis)
        if len(rows) == 1:
            return Outcome(nodes[int(rows[0])].name, diagnosis)
        feasible = list(map(nodes.__getitem__, rows.tolist()))
        status = framework.run_pre_score(state, pod, feasible)
        began = self._timed("PreScore", status, profile, began)
        if not status.is_success:
            return Outcome(None, diagnosis, error=status.message)
        columns = framework.run_score_many(state, pod, snapshot.table(), rows)
        self._timed("Score", st.success(), profile, began)
        return Outcome(self._select_column(columns), diagnosis, columns)

    def _feasible_rows(
        self,
        framework: Framework,
        state: CycleState,
        pod: Object,
        nodes: list[NodeInfo],
        passing: Mask,
        diagnosis: Diagnosis,
        percentage: int,
    ) -> Rows:
        """:meth:`_filter` given every node's verdict: the first wanted passing
        rows from the rotating start; the rejected nodes among those evaluated
        get their status from the per-node filters, for the diagnosis."""
        count = len(nodes)
        wanted = feasible_nodes_to_find(count, percentage)
        order = (np.arange(count) + self._next_start) % count
        rows = order[passing[order]]
        processed = count
        if len(rows) >= wanted:
            rows = rows[:wanted]
            processed = (int(rows[-1]) - self._next_start) % count + 1
        evaluated = order[:processed]
        rejected = list(map(nodes.__getitem__, evaluated[~passing[evaluated]].tolist()))
        diagnosis.statuses = RejectedStatuses(framework, state, pod, rejected)
        self._next_start = (self._next_start + processed) % count
        diagnosis.evaluated = processed
        return rows

    def _feasible_rows_mixed(
        self,
        framework: Framework,
        state: CycleState,
        pod: Object,
        nodes: list[NodeInfo],
        passing: Mask,
        rest: frozenset[str],
        diagnosis: Diagnosis,
        percentage: int,
    ) -> Rows:
        """:meth:`_filter` when some Filters judged every node at once and the
        ``rest`` must go node by node: a node they passed runs only the rest;
        a node they rejected runs every Filter, for its exact status."""
        count = len(nodes)
        wanted = feasible_nodes_to_find(count, percentage)
        verdicts = passing.tolist()
        statuses: dict[str, Status] = {}
        diagnosis.statuses = statuses
        feasible: list[int] = []
        processed = 0
        for offset in range(count):
            row = (self._next_start + offset) % count
            processed += 1
            node = nodes[row]
            only = rest if verdicts[row] else None
            status = framework.run_filter(state, pod, node, only)
            if not status.is_success:
                statuses[node.name] = status
                continue
            feasible.append(row)
            if len(feasible) >= wanted:
                break
        self._next_start = (self._next_start + processed) % count
        diagnosis.evaluated = processed
        return np.array(feasible, dtype=np.intp)

    def _select_column(self, columns: ScoreColumns) -> str:
        """The highest total; ties broken uniformly at random."""
        best = np.flatnonzero(columns.total == columns.total.max())
        return columns.name(int(best[self._random.randrange(len(best))]))

    def _timed(self, point: str, status: Status, profile: str, began: float) -> float:
        """Report the time since ``began`` for ``point``; returns now, the next start."""
        now = time.perf_counter()
        self._observe(point, status, profile, now - began)
        return now

    def _filter(
        self,
        framework: Framework,
        state: CycleState,
        pod: Object,
        nodes: list[NodeInfo],
        allowed: frozenset[str] | None,
        diagnosis: Diagnosis,
        percentage: int,
    ) -> list[NodeInfo]:
        """Upstream's findNodesThatPassFilters, from the rotating start index."""
        wanted = feasible_nodes_to_find(len(nodes), percentage)
        statuses: dict[str, Status] = {}
        diagnosis.statuses = statuses
        feasible: list[NodeInfo] = []
        count = len(nodes)
        processed = 0
        for offset in range(count):
            node = nodes[(self._next_start + offset) % count]
            processed += 1
            if allowed is not None and node.name not in allowed:
                statuses[node.name] = st.unresolvable(FILTERED_BY_PRE_FILTER)
                continue
            status = framework.run_filter_with_nominated_pods(state, pod, node)
            if status.is_success:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            else:
                statuses[node.name] = status
        self._next_start = (self._next_start + processed) % count
        diagnosis.evaluated = processed
        return feasible

    def _select(self, scores: dict[str, NodeScores]) -> str:
        """The highest total; ties broken uniformly at random (reservoir sampling)."""
        best, best_score, ties = "", -1, 0
        for name, node_scores in scores.items():
            if node_scores.total > best_score:
                best, best_score, ties = name, node_scores.total, 1
            elif node_scores.total == best_score:
                ties += 1
                if self._random.randrange(ties) == 0:
                    best = name
        return best


def fit_error_message(all_nodes: int, diagnosis: Diagnosis) -> str:
    """Upstream's FitError text: "0/3 nodes are available: 1 node(s) had untolerated
    taint {a: b}, 2 Insufficient cpu." (reasons counted over nodes, sorted)."""
    message = f"0/{all_nodes} nodes are available:"
    if diagnosis.pre_filter is not None:
        return f"{message} {diagnosis.pre_filter.message}."
    histogram: Counter[str] = Counter()
    for status in diagnosis.statuses.values():
        histogram.update(status.reasons)
    reasons = sorted(f"{count} {reason}" for reason, count in histogram.items())
    return f"{message} {', '.join(reasons)}."
