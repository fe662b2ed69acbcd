"""PreFilter and Filter: required pod affinity and anti-affinity.

PreFilter counts, once per pod, per topology domain (key, value):
- existing pods whose required anti-affinity selects the incoming pod
  (only nodes holding such pods are scanned);
- existing pods matching all of the incoming pod's required affinity terms;
- existing pods matching each of its required anti-affinity terms.
Filter then only looks up the node's domains. A pod whose affinity nothing
matches yet may still go where its own labels satisfy its terms (the first
of a group that wants to be together would otherwise wait forever).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.affinity_terms import (
    AffinityTerm,
    NamespaceLabels,
    Object,
    PodTerms,
)
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.node_selector import node_labels

ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

Domain = tuple[str, str]


@dataclass
class FilterState:
    terms: PodTerms
    matches_own_affinity: bool
    existing_anti_affinity: Counter[Domain] = field(default_factory=Counter)
    affinity: Counter[Domain] = field(default_factory=Counter)
    anti_affinity: Counter[Domain] = field(default_factory=Counter)


def needs_filter(terms: PodTerms, snapshot: Snapshot) -> bool:
    """Whether there is anything to check: the pod's own required terms, or an
    existing pod's required anti-affinity somewhere."""
    return bool(
        terms.required_affinity
        or terms.required_anti_affinity
        or snapshot.has_required_anti_affinity
    )


def pre_filter_state(
    pod: Object, terms: PodTerms, nodes: list[NodeInfo], namespace_labels: NamespaceLabels
) -> FilterState:
    state = FilterState(
        terms, all(term.matches(pod, namespace_labels) for term in terms.required_affinity)
    )
    own_terms = bool(terms.required_affinity or terms.required_anti_affinity)
    for info in nodes:
        if info.node is None:
            continue
        if info.pods_with_required_anti_affinity:
            _count_existing_anti_affinity(state, pod, info, namespace_labels)
        if own_terms and info.pods:
            _count_own_terms(state, info, namespace_labels)
    return state


def _count_existing_anti_affinity(
    state: FilterState, pod: Object, info: NodeInfo, namespace_labels: NamespaceLabels
) -> None:
    for existing in info.pods.values():
        for term in existing.affinity_terms.required_anti_affinity:
            domain = term.domain(info.node)
            if domain is not None and term.matches(pod, namespace_labels):
                state.existing_anti_affinity[domain] += 1


def _count_own_terms(state: FilterState, info: NodeInfo, namespace_labels: NamespaceLabels) -> None:
    affinity = state.terms.required_affinity
    for existing in info.pods.values():
        if affinity and all(term.matches(existing.pod, namespace_labels) for term in affinity):
            _add(state.affinity, affinity, info)
        for term in state.terms.required_anti_affinity:
            if term.matches(existing.pod, namespace_labels):
                _add(state.anti_affinity, (term,), info)


def _add(counts: Counter[Domain], terms: tuple[AffinityTerm, ...], info: NodeInfo) -> None:
    for term in terms:
        domain = term.domain(info.node)
        if domain is not None:
            counts[domain] += 1


def filter_node(state: FilterState, node: NodeInfo) -> Status:
    if not _satisfies_affinity(state, node):
        return st.unresolvable(ERR_REASON_AFFINITY)
    if state.anti_affinity and any(
        state.anti_affinity[domain] > 0
        for term in state.terms.required_anti_affinity
        if (domain := term.domain(node.node)) is not None
    ):
        return st.unschedulable(ERR_REASON_ANTI_AFFINITY)
    if state.existing_anti_affinity and any(
        state.existing_anti_affinity[pair] > 0 for pair in node_labels(node.node).items()
    ):
        return st.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
    return st.success()


def _satisfies_affinity(state: FilterState, node: NodeInfo) -> bool:
    """Every term's domain on the node holds a matching pod; the node must have
    every term's key in any case."""
    found = True
    for term in state.terms.required_affinity:
        domain = term.domain(node.node)
        if domain is None:
            return False
        if state.affinity[domain] <= 0:
            found = False
    return found or (not state.affinity and state.matches_own_affinity)
