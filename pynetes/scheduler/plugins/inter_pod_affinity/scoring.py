"""PreScore, Score and NormalizeScore: preferred pod affinity and anti-affinity,
and the symmetry with existing pods' terms.

PreScore adds up, once per pod, a weight per topology domain (key, value):
- each of the incoming pod's preferred terms an existing pod matches (+ or -
  its weight, in the existing pod's domain);
- each existing pod's required affinity the incoming pod matches
  (+hardPodAffinityWeight) and, unless ignorePreferredTermsOfExistingPods,
  its preferred terms (+ or -).
A node's score is the sum over the domains it is in, scaled min..max to 0..100.
Without preferred terms of its own, only nodes holding pods with affinity
need scanning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pynetes.scheduler.framework.affinity_terms import (
    AffinityTerm,
    NamespaceLabels,
    Object,
    PodTerms,
)
from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.plugins.helpers.node_selector import node_labels

Domain = tuple[str, str]


@dataclass(frozen=True)
class ScoreArgs:
    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False


def domain_scores(
    pod: Object,
    terms: PodTerms,
    nodes: list[NodeInfo],
    namespace_labels: NamespaceLabels,
    args: ScoreArgs,
) -> Counter[Domain]:
    has_own = bool(terms.preferred_affinity or terms.preferred_anti_affinity)
    scores: Counter[Domain] = Counter()
    for info in nodes:
        if not has_own and not info.pods_with_affinity:
            continue
        if info.node is None or not node_labels(info.node):
            continue
        for existing in info.pods.values():
            _score_existing(scores, pod, terms, existing, info, namespace_labels, args)
    return scores


def _score_existing(
    scores: Counter[Domain],
    pod: Object,
    terms: PodTerms,
    existing: PodInfo,
    info: NodeInfo,
    namespace_labels: NamespaceLabels,
    args: ScoreArgs,
) -> None:
    _apply(scores, terms.preferred_affinity, existing.pod, info, namespace_labels, 1)
    _apply(scores, terms.preferred_anti_affinity, existing.pod, info, namespace_labels, -1)
    theirs = existing.affinity_terms
    if args.hard_pod_affinity_weight > 0:
        for term in theirs.required_affinity:
            domain = term.domain(info.node)
            if domain is not None and term.matches(pod, namespace_labels):
                scores[domain] += args.hard_pod_affinity_weight
    if not args.ignore_preferred_terms_of_existing_pods:
        _apply(scores, theirs.preferred_affinity, pod, info, namespace_labels, 1)
        _apply(scores, theirs.preferred_anti_affinity, pod, info, namespace_labels, -1)


def _apply(
    scores: Counter[Domain],
    terms: tuple[AffinityTerm, ...],
    target: Object,
    info: NodeInfo,
    namespace_labels: NamespaceLabels,
    sign: int,
) -> None:
    """Add ``sign * weight`` to the domain of ``info`` for each term ``target`` matches."""
    for term in terms:
        domain = term.domain(info.node)
        if domain is not None and term.matches(target, namespace_labels):
            scores[domain] += sign * term.weight


def score_node(scores: Counter[Domain], node: NodeInfo) -> int:
    return sum(scores.get(pair, 0) for pair in node_labels(node.node).items())


def normalize(scores: dict[str, int]) -> None:
    """Scale linearly so the lowest becomes 0 and the highest MAX_NODE_SCORE
    (all 0 when they are equal)."""
    lowest, highest = min(scores.values(), default=0), max(scores.values(), default=0)
    spread = highest - lowest
    for name, score in scores.items():
        scores[name] = int(MAX_NODE_SCORE * (score - lowest) / spread) if spread > 0 else 0
