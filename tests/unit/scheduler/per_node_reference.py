"""The node-by-node PodTopologySpread and InterPodAffinity as they were before
they learnt to count over the node table: plain loops over every node and
pod, with Counters keyed by domain value. Kept here as the oracle the
vectorised plugins are checked against on random clusters."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from pynetes.scheduler.framework.affinity_terms import AffinityTerm, NamespaceLabels, PodTerms
from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import HARD_TAINT_EFFECTS
from pynetes.scheduler.plugins.helpers.node_selector import (
    node_labels,
    required_node_affinity_matches,
)
from pynetes.scheduler.plugins.helpers.taints import first_untolerated, node_taints
from pynetes.scheduler.plugins.inter_pod_affinity.scoring import ScoreArgs
from pynetes.scheduler.plugins.pod_topology_spread.args import HOSTNAME_KEY
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    HONOR,
    Constraint,
    count_matching,
    has_all_keys,
)

Object = dict[str, Any]
OK = "ok"
SPREAD = "node(s) didn't match pod topology spread constraints"
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"


def _namespace(pod: Object) -> str:
    return (pod.get("metadata") or {}).get("namespace") or ""


def _includes(constraint: Constraint, pod: Object, node: Object) -> bool:
    """Whether ``node``'s domain counts for ``pod`` under the inclusion policies."""
    if constraint.node_affinity_policy == HONOR and not required_node_affinity_matches(pod, node):
        return False
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    untolerated = first_untolerated(node_taints(node), tolerations, HARD_TAINT_EFFECTS)
    return constraint.node_taints_policy != HONOR or untolerated is None


def spread_filter(
    pod: Object, constraints: list[Constraint], nodes: list[NodeInfo]
) -> dict[str, str]:
    """Each node's verdict: OK or the first failing reason."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    counts: list[Counter[str]] = [Counter() for _ in constraints]
    for info in nodes:
        if info.node is None or not has_all_keys(info.node, constraints):
            continue
        values = node_labels(info.node)
        for index, constraint in enumerate(constraints):
            if _includes(constraint, pod, info.node):
                counts[index][values[constraint.topology_key]] += count_matching(
                    info.pods.values(), constraint.selector, _namespace(pod)
                )
    minimums = [
        0 if len(found) < c.min_domains else min(found.values(), default=2**31 - 1)
        for found, c in zip(counts, constraints, strict=True)
    ]
    verdicts = {}
    for info in nodes:
        values = node_labels(info.node)
        verdict = OK
        for index, constraint in enumerate(constraints):
            domain = values.get(constraint.topology_key)
            if domain is None:
                verdict = f"{SPREAD} (missing required label)"
                break
            matching = counts[index].get(domain, 0) + int(constraint.selector.matches(labels))
            if matching - minimums[index] > constraint.max_skew:
                verdict = SPREAD
                break
        verdicts[info.name] = verdict
    return verdicts


def spread_scores(
    pod: Object,
    constraints: list[Constraint],
    feasible: list[NodeInfo],
    every_node: list[NodeInfo],
    require_all_keys: bool,
) -> dict[str, int]:
    """Normalized scores of the ``feasible`` nodes."""
    namespace = _namespace(pod)
    ignored: set[str] = set()
    counts: list[Counter[str]] = [Counter() for _ in constraints]
    for info in feasible:
        if require_all_keys and not has_all_keys(info.node, constraints):
            ignored.add(info.name)
            continue
        for index, constraint in enumerate(constraints):
            if constraint.topology_key != HOSTNAME_KEY:
                counts[index][node_labels(info.node).get(constraint.topology_key, "")] = 0
    for info in every_node:
        if info.node is None or (require_all_keys and not has_all_keys(info.node, constraints)):
            continue
        for index, constraint in enumerate(constraints):
            domain = node_labels(info.node).get(constraint.topology_key)
            if domain is None or domain not in counts[index]:
                continue
            if _includes(constraint, pod, info.node):
                counts[index][domain] += count_matching(
                    info.pods.values(), constraint.selector, namespace
                )
    scored = len(feasible) - len(ignored)
    weights = [
        math.log((scored if c.topology_key == HOSTNAME_KEY else len(found)) + 2)
        for c, found in zip(constraints, counts, strict=True)
    ]
    scores = {}
    for info in feasible:
        total = 0.0
        for index, constraint in enumerate(constraints):
            domain = node_labels(info.node).get(constraint.topology_key)
            if domain is None or info.name in ignored:
                continue
            if constraint.topology_key == HOSTNAME_KEY:
                count = count_matching(info.pods.values(), constraint.selector, namespace)
            else:
                count = counts[index][domain]
            total += count * weights[index] + constraint.max_skew - 1
        scores[info.name] = 0 if info.name in ignored else math.floor(total + 0.5)
    valid = [score for name, score in scores.items() if name not in ignored]
    highest, lowest = max(valid, default=0), min(valid, default=0)
    for name, score in scores.items():
        if name in ignored:
            scores[name] = 0
        elif highest == 0:
            scores[name] = MAX_NODE_SCORE
        else:
            scores[name] = MAX_NODE_SCORE * (highest + lowest - score) // highest
    return scores


def _domain(term: AffinityTerm, info: NodeInfo) -> tuple[str, str] | None:
    return term.domain(info.node)


def affinity_filter(
    pod: Object, nodes: list[NodeInfo], namespace_labels: NamespaceLabels
) -> dict[str, str]:
    """Each node's verdict, OK when nothing is to be checked."""
    terms = PodTerms.of(pod)
    existing: Counter[tuple[str, str]] = Counter()
    affinity: Counter[tuple[str, str]] = Counter()
    anti: Counter[tuple[str, str]] = Counter()
    for info in nodes:
        if info.node is None:
            continue
        for other in info.pods.values():
            for term in other.affinity_terms.required_anti_affinity:
                domain = _domain(term, info)
                if domain is not None and term.matches(pod, namespace_labels):
                    existing[domain] += 1
            wanted = terms.required_affinity
            if wanted and all(term.matches(other.pod, namespace_labels) for term in wanted):
                for term in wanted:
                    if (domain := _domain(term, info)) is not None:
                        affinity[domain] += 1
            for term in terms.required_anti_affinity:
                domain = _domain(term, info)
                if domain is not None and term.matches(other.pod, namespace_labels):
                    anti[domain] += 1
    matches_own = all(term.matches(pod, namespace_labels) for term in terms.required_affinity)
    verdicts = {}
    for info in nodes:
        found, has_keys = True, True
        for term in terms.required_affinity:
            domain = _domain(term, info)
            if domain is None:
                has_keys = False
            elif affinity[domain] <= 0:
                found = False
        labels = node_labels(info.node)
        if not has_keys or not (found or (not affinity and matches_own)):
            verdicts[info.name] = AFFINITY
        elif any(
            anti[domain] > 0
            for term in terms.required_anti_affinity
            if (domain := _domain(term, info)) is not None
        ):
            verdicts[info.name] = ANTI
        elif any(existing[pair] > 0 for pair in labels.items()):
            verdicts[info.name] = EXISTING
        else:
            verdicts[info.name] = OK
    return verdicts


def affinity_scores(
    pod: Object,
    feasible: list[NodeInfo],
    every_node: list[NodeInfo],
    namespace_labels: NamespaceLabels,
    args: ScoreArgs,
) -> dict[str, int] | None:
    """Normalized scores of the ``feasible`` nodes; None when nothing weighs
    (or, ignoring existing pods' preferences, the pod has none of its own)."""
    terms = PodTerms.of(pod)
    if args.ignore_preferred_terms_of_existing_pods and not (
        terms.preferred_affinity or terms.preferred_anti_affinity
    ):
        return None
    scores: Counter[tuple[str, str]] = Counter()

    def apply(found: tuple[AffinityTerm, ...], target: Object, info: NodeInfo, sign: int) -> None:
        for term in found:
            domain = _domain(term, info)
            if domain is not None and term.matches(target, namespace_labels):
                scores[domain] += sign * term.weight

    for info in every_node:
        if info.node is None:
            continue
        for other in info.pods.values():
            apply(terms.preferred_affinity, other.pod, info, 1)
            apply(terms.preferred_anti_affinity, other.pod, info, -1)
            theirs = other.affinity_terms
            if args.hard_pod_affinity_weight > 0:
                for term in theirs.required_affinity:
                    domain = _domain(term, info)
                    if domain is not None and term.matches(pod, namespace_labels):
                        scores[domain] += args.hard_pod_affinity_weight
            if not args.ignore_preferred_terms_of_existing_pods:
                apply(theirs.preferred_affinity, pod, info, 1)
                apply(theirs.preferred_anti_affinity, pod, info, -1)
    if not scores:
        return None
    raw = {
        info.name: sum(scores.get(pair, 0) for pair in node_labels(info.node).items())
        for info in feasible
    }
    lowest, highest = min(raw.values()), max(raw.values())
    spread = highest - lowest
    return {
        name: int(MAX_NODE_SCORE * (score - lowest) / spread) if spread > 0 else 0
        for name, score in raw.items()
    }
