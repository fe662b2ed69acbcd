"""PreFilter and Filter: DoNotSchedule constraints as hard limits.

PreFilter counts, once per pod, the matching pods in every domain (topology
value) over all nodes that have every constraint's key and that the
constraint's inclusion policies admit: each node's matching pods (kept by the
node table between cycles) summed per domain id with ``np.bincount``. Filter
then only looks up the node's domain: ``count + self-match - global minimum``
must not exceed maxSkew; :func:`filter_rows` does so for every node at once.
The global minimum is 0 while fewer than minDomains domains exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import NO_DOMAIN, Column, Domains, Mask, NodeTable
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.node_selector import node_labels
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    Constraint,
    has_all_keys_rows,
    matching_rows,
    pod_labels,
    pod_namespace,
)

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = f"{ERR_REASON_CONSTRAINTS_NOT_MATCH} (missing required label)"
#: Upstream's critical paths start at MaxInt32: with no domain, nothing is skewed.
_NO_MINIMUM = 2**31 - 1

Object = dict[str, Any]


@dataclass
class Spread:
    """One constraint's matching pods per domain id of its key, and the global
    minimum (computed once, not per node: hostname has a domain per node)."""

    constraint: Constraint
    domains: Domains
    counts: Column
    self_match: int
    minimum: int
    #: The domains that exist (some counted node has them), for the minimum.
    exists: Mask

    def count(self, labels: dict[str, str]) -> int:
        """Matching pods in the domain of a node with ``labels`` (which have the key)."""
        return int(self.domains.at(self.counts, labels))

    def shifted(self, labels: dict[str, str], delta: int) -> Spread:
        """A copy with ``delta`` more matching pods in the domain of a node with
        ``labels`` (a what-if adding or removing a pod there), minimum recomputed."""
        domain = self.domains.index.get(labels.get(self.constraint.topology_key, ""))
        if domain is None or not self.exists[domain]:
            return self
        counts = self.counts.copy()
        counts[domain] += delta
        minimum = _minimum(counts[self.exists], self.constraint.min_domains)
        return replace(self, counts=counts, minimum=minimum)

    def exceeds_rows(self) -> Mask:
        """Rows where one more pod would skew the domains more than maxSkew."""
        matching = self.domains.per_row(self.counts) + self.self_match
        return matching - self.minimum > self.constraint.max_skew


@dataclass
class FilterState:
    """The counts, over ``table``'s rows."""

    table: NodeTable
    spreads: list[Spread]

    def clone(self) -> FilterState:
        """For a what-if (CycleState.clone): spreads are replaced, never changed."""
        return FilterState(self.table, list(self.spreads))

    def with_pod(self, incoming: Object, other: Object, node: Object, delta: int) -> None:
        """Count ``other`` in (``delta`` 1) or out (-1) of ``node``'s domains, as
        upstream's PreFilter extensions AddPod and RemovePod (updateWithPod): only
        a pod of the incoming pod's namespace, on a node with every constraint's
        key that the constraint's inclusion policies admit, and that it selects."""
        if pod_namespace(other) != pod_namespace(incoming):
            return
        labels = node_labels(node)
        if any(spread.constraint.topology_key not in labels for spread in self.spreads):
            return
        other_labels = pod_labels(other)
        for index, spread in enumerate(self.spreads):
            constraint = spread.constraint
            if constraint.selector.matches(other_labels) and constraint.includes(incoming, node):
                self.spreads[index] = spread.shifted(labels, delta)


def _minimum(counts: Column, min_domains: int) -> int:
    """The global minimum over the ``counts`` of the domains that exist."""
    if len(counts) < min_domains:
        return 0
    return int(counts.min()) if len(counts) else _NO_MINIMUM


def pre_filter_state(pod: Object, constraints: list[Constraint], table: NodeTable) -> FilterState:
    namespace = pod_namespace(pod)
    labels = pod_labels(pod)
    with_keys = has_all_keys_rows(table, constraints)
    spreads = []
    for constraint in constraints:
        domains = table.domains(constraint.topology_key)
        counted = with_keys & constraint.includes_rows(pod, table)
        ids = domains.ids[counted]
        size = len(domains.values)
        matching = matching_rows(table, constraint.selector, namespace)[counted]
        counts = np.bincount(ids, weights=matching, minlength=size).astype(np.int64)
        exists = np.bincount(ids, minlength=size) > 0
        spreads.append(
            Spread(
                constraint,
                domains,
                counts,
                int(constraint.selector.matches(labels)),
                _minimum(counts[exists], constraint.min_domains),
                exists,
            )
        )
    return FilterState(table, spreads)


def filter_node(state: FilterState, node: NodeInfo) -> Status:
    labels = node_labels(node.node)
    for spread in state.spreads:
        if spread.constraint.topology_key not in labels:
            return st.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
        matching = spread.count(labels) + spread.self_match
        if matching - spread.minimum > spread.constraint.max_skew:
            return st.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
    return st.success()


def filter_rows(state: FilterState, table: NodeTable) -> Mask | None:
    """:func:`filter_node`'s verdict on every row of ``table``; None unless the
    state was counted over this very table."""
    if table is not state.table:
        return None
    passing = np.ones(len(table), dtype=np.bool_)
    for spread in state.spreads:
        passing &= (spread.domains.ids != NO_DOMAIN) & ~spread.exceeds_rows()
    return passing
