"""PreFilter and Filter: DoNotSchedule constraints as hard limits.

PreFilter counts, once per pod, the matching pods in every domain (topology
value) over all nodes that have every constraint's key and that the
constraint's inclusion policies admit; Filter then only looks up the node's
domain: ``count + self-match - global minimum`` must not exceed maxSkew. The
global minimum is 0 while fewer than minDomains domains exist.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.node_selector import node_labels
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    Constraint,
    count_matching,
    has_all_keys,
    pod_labels,
)

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = f"{ERR_REASON_CONSTRAINTS_NOT_MATCH} (missing required label)"
#: Upstream's critical paths start at MaxInt32: with no domain, nothing is skewed.
_NO_MINIMUM = 2**31 - 1

Object = dict[str, Any]


@dataclass
class FilterState:
    """Per constraint: matching pods per domain, the pod's own match, and the
    global minimum (computed once, not per node: hostname has a domain per node)."""

    constraints: list[Constraint]
    counts: list[Counter[str]] = field(default_factory=list)
    self_match: list[int] = field(default_factory=list)
    minimums: list[int] = field(default_factory=list)


def _minimum(counts: Counter[str], min_domains: int) -> int:
    if len(counts) < min_domains:
        return 0
    return min(counts.values(), default=_NO_MINIMUM)


def pre_filter_state(
    pod: Object, constraints: list[Constraint], nodes: list[NodeInfo]
) -> FilterState:
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    labels = pod_labels(pod)
    state = FilterState(
        constraints,
        [Counter() for _ in constraints],
        [int(c.selector.matches(labels)) for c in constraints],
    )
    for info in nodes:
        if info.node is None or not has_all_keys(info.node, constraints):
            continue
        values = node_labels(info.node)
        for index, constraint in enumerate(constraints):
            if not constraint.includes(pod, info.node):
                continue
            domain = values[constraint.topology_key]
            state.counts[index][domain] += count_matching(
                info.pods.values(), constraint.selector, namespace
            )
    state.minimums = [
        _minimum(counts, c.min_domains) for counts, c in zip(state.counts, constraints, strict=True)
    ]
    return state


def filter_node(state: FilterState, node: NodeInfo) -> Status:
    values = node_labels(node.node)
    for index, constraint in enumerate(state.constraints):
        domain = values.get(constraint.topology_key)
        if domain is None:
            return st.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
        matching = state.counts[index].get(domain, 0) + state.self_match[index]
        if matching - state.minimums[index] > constraint.max_skew:
            return st.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
    return st.success()
