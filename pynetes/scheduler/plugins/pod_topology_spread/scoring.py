"""PreScore, Score and NormalizeScore: ScheduleAnyway constraints as preferences.

PreScore counts matching pods per domain once per pod, only for the domains
the feasible nodes are in (hostname counts are the node's own pods, read in
Score). A node scores ``sum(count * log(domains + 2) + maxSkew - 1)`` over
the constraints, fewer being better; normalization turns that around so the
least crowded node gets MAX_NODE_SCORE. Nodes missing a topology key score 0,
except under the system defaults, where a node without a zone still spreads
by hostname.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.plugins.helpers.node_selector import node_labels
from pynetes.scheduler.plugins.pod_topology_spread.args import HOSTNAME_KEY
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    Constraint,
    count_matching,
    has_all_keys,
)

Object = dict[str, Any]


@dataclass
class ScoreState:
    constraints: list[Constraint]
    namespace: str
    ignored: set[str] = field(default_factory=set)
    counts: list[Counter[str]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def pre_score_state(
    pod: Object,
    constraints: list[Constraint],
    feasible: list[NodeInfo],
    every_node: list[NodeInfo],
    require_all_keys: bool,
) -> ScoreState:
    state = ScoreState(
        constraints,
        (pod.get("metadata") or {}).get("namespace") or "",
        counts=[Counter() for _ in constraints],
    )
    for info in feasible:
        if require_all_keys and not has_all_keys(info.node, constraints):
            state.ignored.add(info.name)
            continue
        labels = node_labels(info.node)
        for index, constraint in enumerate(constraints):
            if constraint.topology_key != HOSTNAME_KEY:
                state.counts[index][labels.get(constraint.topology_key, "")] = 0
    _count_domains(state, pod, every_node, require_all_keys)
    scored = len(feasible) - len(state.ignored)
    state.weights = [
        math.log((scored if c.topology_key == HOSTNAME_KEY else len(counts)) + 2)
        for c, counts in zip(constraints, state.counts, strict=True)
    ]
    return state


def _count_domains(
    state: ScoreState, pod: Object, every_node: list[NodeInfo], require_all_keys: bool
) -> None:
    """Add every node's matching pods to its domains that a feasible node is in."""
    for info in every_node:
        if info.node is None or (
            require_all_keys and not has_all_keys(info.node, state.constraints)
        ):
            continue
        labels = node_labels(info.node)
        for index, constraint in enumerate(state.constraints):
            counts = state.counts[index]
            domain = labels.get(constraint.topology_key)
            if domain is None or domain not in counts or not constraint.includes(pod, info.node):
                continue
            counts[domain] += count_matching(
                info.pods.values(), constraint.selector, state.namespace
            )


def score_node(state: ScoreState, node: NodeInfo) -> int:
    if node.name in state.ignored:
        return 0
    labels = node_labels(node.node)
    total = 0.0
    for index, constraint in enumerate(state.constraints):
        domain = labels.get(constraint.topology_key)
        if domain is None:
            continue
        if constraint.topology_key == HOSTNAME_KEY:
            count = count_matching(node.pods.values(), constraint.selector, state.namespace)
        else:
            count = state.counts[index][domain]
        total += count * state.weights[index] + constraint.max_skew - 1
    return math.floor(total + 0.5)  # Go's math.Round: halves away from zero


def normalize(state: ScoreState, scores: dict[str, int]) -> None:
    """``MAX * (max + min - score) / max`` over the scored nodes; ignored ones get 0."""
    valid = [score for name, score in scores.items() if name not in state.ignored]
    highest, lowest = max(valid, default=0), min(valid, default=0)
    for name, score in scores.items():
        if name in state.ignored:
            scores[name] = 0
        elif highest == 0:
            scores[name] = MAX_NODE_SCORE
        else:
            scores[name] = MAX_NODE_SCORE * (highest + lowest - score) // highest
