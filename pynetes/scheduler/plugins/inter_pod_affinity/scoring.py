"""PreScore, Score and NormalizeScore: preferred pod affinity and anti-affinity,
and the symmetry with existing pods' terms.

PreScore adds up, once per pod, a weight per topology domain (key, value):
- each of the incoming pod's preferred terms an existing pod matches (+ or -
  its weight, in the existing pod's domain);
- each existing pod's required affinity the incoming pod matches
  (+hardPodAffinityWeight) and, unless ignorePreferredTermsOfExistingPods,
  its preferred terms (+ or -).
A node's score is the sum over the domains it is in, scaled min..max to 0..100.

Each node's weights per topology key are counted by the node table and kept
between cycles (recounted only on nodes that changed), then summed per
domain in one numpy step. Without preferred terms of its own, only nodes
holding pods with affinity weigh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pynetes.scheduler.framework.affinity_terms import (
    AffinityTerm,
    NamespaceLabels,
    Object,
    PodTerms,
)
from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import NO_DOMAIN, Column, Domains, NodeTable, Rows
from pynetes.scheduler.plugins.helpers.node_selector import node_labels
from pynetes.scheduler.plugins.inter_pod_affinity.filtering import pod_identity, terms_key

#: The channel (not a topology key: those are strings) counting the (term,
#: pod) pairs that weighed at all: when none did, PreScore skips the plugin.
_WEIGHED = ("weighed",)


@dataclass(frozen=True)
class ScoreArgs:
    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False


@dataclass
class ScoreState:
    """Per topology key, the summed weight of each domain id, over ``table``."""

    table: NodeTable
    weights: dict[str, tuple[Domains, Column]] = field(default_factory=dict)


def domain_scores(
    pod: Object,
    terms: PodTerms,
    table: NodeTable,
    namespace_labels: NamespaceLabels,
    args: ScoreArgs,
) -> ScoreState | None:
    """The weights of every domain of ``table``'s nodes; None when no term weighed."""
    counted = [_theirs(pod, table, namespace_labels, args)]
    if terms.preferred_affinity or terms.preferred_anti_affinity:
        counted.append(_own(terms, table, namespace_labels))
    summed: dict[Hashable, Column] = {}
    for channels in counted:
        for channel, column in channels.items():
            found = summed.get(channel)
            summed[channel] = column if found is None else found + column
    weighed = summed.pop(_WEIGHED, None)
    if weighed is None or not weighed.any():
        return None
    state = ScoreState(table)
    for key, column in summed.items():
        domains = table.domains(str(key))
        has = domains.ids != NO_DOMAIN
        by_domain = np.bincount(
            domains.ids[has], weights=column[has], minlength=len(domains.values)
        )
        state.weights[str(key)] = (domains, by_domain.astype(np.int64))
    return state


def _theirs(
    pod: Object, table: NodeTable, namespace_labels: NamespaceLabels, args: ScoreArgs
) -> Mapping[Hashable, Column]:
    """Per topology key, per row: the weights of the terms of the row's pods
    towards ``pod``."""

    def count(info: NodeInfo) -> Counter[Hashable]:
        found: Counter[Hashable] = Counter()
        for existing in info.pods.values():
            theirs = existing.affinity_terms
            if args.hard_pod_affinity_weight > 0:
                hard = args.hard_pod_affinity_weight
                _weigh(found, theirs.required_affinity, pod, info, namespace_labels, hard)
            if not args.ignore_preferred_terms_of_existing_pods:
                _weigh(found, theirs.preferred_affinity, pod, info, namespace_labels)
                _weigh(found, theirs.preferred_anti_affinity, pod, info, namespace_labels, sign=-1)
        return found

    key = ("InterPodAffinity.theirs", pod_identity(pod, namespace_labels), args)
    return table.counts(key, count, table.pods_with_affinity > 0)


def _own(
    terms: PodTerms, table: NodeTable, namespace_labels: NamespaceLabels
) -> Mapping[Hashable, Column]:
    """Per topology key, per row: the weights of the pod's preferred terms
    towards the row's pods."""

    def count(info: NodeInfo) -> Counter[Hashable]:
        found: Counter[Hashable] = Counter()
        for existing in info.pods.values():
            _weigh(found, terms.preferred_affinity, existing.pod, info, namespace_labels)
            _weigh(
                found, terms.preferred_anti_affinity, existing.pod, info, namespace_labels, sign=-1
            )
        return found

    key = terms_key("preferred", terms.preferred_affinity, terms.preferred_anti_affinity)
    return table.counts(key, count, table.pod_count > 0)


def _weigh(
    found: Counter[Hashable],
    terms: tuple[AffinityTerm, ...],
    target: Object,
    info: NodeInfo,
    namespace_labels: NamespaceLabels,
    weight: int | None = None,
    sign: int = 1,
) -> None:
    """Add ``sign`` times ``weight`` (the term's own if None) to the term's
    topology key for each term ``target`` matches, on a node with that key."""
    for term in terms:
        if term.domain(info.node) is not None and term.matches(target, namespace_labels):
            found[term.topology_key] += sign * (term.weight if weight is None else weight)
            found[_WEIGHED] += 1


def score_node(state: ScoreState, node: NodeInfo) -> int:
    labels = node_labels(node.node)
    total = 0
    for domains, weights in state.weights.values():
        total += int(domains.at(weights, labels))
    return total


def score_rows(state: ScoreState, table: NodeTable, rows: Rows) -> Column | None:
    """:func:`score_node` of each of ``rows``; None unless the state was
    counted over this very table."""
    if table is not state.table:
        return None
    total = np.zeros(len(rows), dtype=np.int64)
    for domains, weights in state.weights.values():
        total += domains.per_row(weights, rows)
    return total


def normalize(scores: dict[str, int]) -> None:
    """Scale linearly so the lowest becomes 0 and the highest MAX_NODE_SCORE
    (all 0 when they are equal)."""
    lowest, highest = min(scores.values(), default=0), max(scores.values(), default=0)
    spread = highest - lowest
    for name, score in scores.items():
        scores[name] = int(MAX_NODE_SCORE * (score - lowest) / spread) if spread > 0 else 0


def normalize_rows(scores: Column) -> Column:
    """:func:`normalize` of a column (the same float division, then truncation)."""
    if not scores.size:
        return scores
    lowest, highest = int(scores.min()), int(scores.max())
    spread = highest - lowest
    if spread <= 0:
        return np.zeros_like(scores)
    return (MAX_NODE_SCORE * (scores - lowest) / spread).astype(np.int64)
