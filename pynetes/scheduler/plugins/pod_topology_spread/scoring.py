"""PreScore, Score and NormalizeScore: ScheduleAnyway constraints as preferences.

PreScore counts matching pods per domain once per pod, only for the domains
the feasible nodes are in (hostname counts are the node's own pods, read in
Score). A node scores ``sum(count * log(domains + 2) + maxSkew - 1)`` over
the constraints, fewer being better; normalization turns that around so the
least crowded node gets MAX_NODE_SCORE. Nodes missing a topology key score 0,
except under the system defaults, where a node without a zone still spreads
by hostname (a feasible node without the key then counts as one more
domain, named "", as upstream).

Counting is done over the node table (per-node matching pods kept between
cycles, summed per domain id); :func:`score_rows` and :func:`normalize_rows`
are Score and NormalizeScore for many nodes at once, in the same floating
point steps as the node-by-node forms, so they give the same integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import NO_DOMAIN, Column, Domains, Mask, NodeTable, Rows
from pynetes.scheduler.plugins.helpers.node_selector import node_labels
from pynetes.scheduler.plugins.pod_topology_spread.args import HOSTNAME_KEY
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    Constraint,
    count_matching,
    has_all_keys_rows,
    matching_rows,
    pod_namespace,
)

Object = dict[str, Any]


@dataclass
class Preference:
    """One constraint as scored: per domain id the matching pods (only for the
    domains of scored feasible nodes; none for hostname, where each node's
    own pods count), and its weight."""

    constraint: Constraint
    domains: Domains
    counts: Column
    weight: float

    @property
    def by_hostname(self) -> bool:
        return self.constraint.topology_key == HOSTNAME_KEY


@dataclass
class ScoreState:
    namespace: str
    table: NodeTable
    #: Feasible nodes that score 0 (missing a key when every key is required).
    ignored: set[str]
    ignored_rows: Mask
    preferences: list[Preference] = field(default_factory=list)
    #: ``ignored_rows`` of the rows :func:`score_rows` last scored, for
    #: :func:`normalize_rows`, which is given only their scores.
    scored_ignored: Mask | None = None


def pre_score_state(
    pod: Object,
    constraints: list[Constraint],
    feasible: list[NodeInfo],
    table: NodeTable,
    require_all_keys: bool,
) -> ScoreState:
    """``table`` holds every node; ``feasible`` are some of them."""
    rows = table.rows_of(feasible)
    with_keys = has_all_keys_rows(table, constraints) if require_all_keys else None
    ignored_rows = np.zeros(len(table), dtype=np.bool_)
    if with_keys is not None:
        ignored_rows[rows[~with_keys[rows]]] = True
    scored = rows[~ignored_rows[rows]]
    state = ScoreState(
        pod_namespace(pod),
        table,
        {table.infos[row].name for row in np.flatnonzero(ignored_rows).tolist()},
        ignored_rows,
    )
    for constraint in constraints:
        domains = table.domains(constraint.topology_key)
        if constraint.topology_key == HOSTNAME_KEY:
            counts, how_many = np.zeros(0, dtype=np.int64), len(scored)
        else:
            counts, how_many = _domain_counts(pod, constraint, table, domains, scored, with_keys)
        state.preferences.append(Preference(constraint, domains, counts, math.log(how_many + 2)))
    return state


def _domain_counts(
    pod: Object,
    constraint: Constraint,
    table: NodeTable,
    domains: Domains,
    scored: Rows,
    with_keys: Mask | None,
) -> tuple[Column, int]:
    """Matching pods per domain id, over the nodes (with every key, if
    ``with_keys`` is given) the constraint admits, in the domains the
    ``scored`` nodes are in; and how many domains those are."""
    present = _domains_of(domains, scored)
    counted = domains.per_row(present)
    if with_keys is not None:
        counted &= with_keys
    counted &= constraint.includes_rows(pod, table)
    matching = matching_rows(table, constraint.selector, pod_namespace(pod))[counted]
    counts = np.bincount(domains.ids[counted], weights=matching, minlength=len(present))
    how_many = int(present.sum())
    if (domains.ids[scored] == NO_DOMAIN).any() and "" not in domains.index:
        how_many += 1  # the "" domain of the nodes without the key
    return counts.astype(np.int64), how_many


def _domains_of(domains: Domains, rows: Rows) -> Mask:
    """Which domain ids the nodes of ``rows`` are in; a row without the key is
    in the domain "" (when some node has that value)."""
    present = np.zeros(len(domains.values) + 1, dtype=np.bool_)  # the last one: NO_DOMAIN
    present[domains.ids[rows]] = True
    if present[NO_DOMAIN] and "" in domains.index:
        present[domains.index[""]] = True
    return present[:-1]


def score_node(state: ScoreState, node: NodeInfo) -> int:
    if node.name in state.ignored:
        return 0
    labels = node_labels(node.node)
    total = 0.0
    for preference in state.preferences:
        constraint = preference.constraint
        if constraint.topology_key not in labels:
            continue
        if preference.by_hostname:
            count = count_matching(node.pods.values(), constraint.selector, state.namespace)
        else:
            count = int(preference.domains.at(preference.counts, labels))
        total += count * preference.weight + constraint.max_skew - 1
    return math.floor(total + 0.5)  # Go's math.Round: halves away from zero


def score_rows(state: ScoreState, table: NodeTable, rows: Rows) -> Column | None:
    """:func:`score_node` of each of ``rows``; None unless the state was
    counted over this very table."""
    if table is not state.table:
        return None
    total = np.zeros(len(rows), dtype=np.float64)
    for preference in state.preferences:
        constraint = preference.constraint
        ids = preference.domains.ids[rows]
        if preference.by_hostname:
            counts = matching_rows(table, constraint.selector, state.namespace)[rows]
        else:
            counts = preference.domains.per_row(preference.counts, rows)
        term = counts * preference.weight + constraint.max_skew - 1
        total += np.where(ids != NO_DOMAIN, term, 0.0)
    scores = np.floor(total + 0.5).astype(np.int64)
    state.scored_ignored = state.ignored_rows[rows]
    scores[state.scored_ignored] = 0
    return scores


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


def normalize_rows(state: ScoreState, scores: Column) -> Column:
    """:func:`normalize` of the column :func:`score_rows` last returned."""
    ignored = state.scored_ignored
    assert ignored is not None, "score_rows first"
    valid = scores[~ignored]
    highest = int(valid.max()) if valid.size else 0
    lowest = int(valid.min()) if valid.size else 0
    if highest == 0:
        normalized = np.full_like(scores, MAX_NODE_SCORE)
    else:
        normalized = MAX_NODE_SCORE * (highest + lowest - scores) // highest
    normalized[ignored] = 0
    return normalized
