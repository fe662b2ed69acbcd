"""PreFilter and Filter: required pod affinity and anti-affinity.

PreFilter marks, once per pod, per topology key the domains (values) that hold:
- an existing pod whose required anti-affinity selects the incoming pod
  (only nodes holding such pods are looked at);
- an existing pod matching all of the incoming pod's required affinity terms;
- an existing pod matching one of its required anti-affinity terms.
What each node holds is counted by the node table and kept between cycles
(recounted only on nodes that changed), then spread over the domains in one
numpy step. Filter then only looks up the node's domains; :func:`filter_rows`
does so for every node at once. A pod whose affinity nothing matches yet may
still go where its own labels satisfy its terms (the first of a group that
wants to be together would otherwise wait forever).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.affinity_terms import (
    AffinityTerm,
    NamespaceLabels,
    Object,
    PodTerms,
)
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.node_table import NO_DOMAIN, Column, Domains, Mask, NodeTable
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.node_selector import node_labels

ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


@dataclass(frozen=True)
class Marked:
    """How many of what was looked for each domain of one topology key holds."""

    domains: Domains
    counts: npt.NDArray[np.int64]

    @classmethod
    def where(cls, table: NodeTable, key: str, per_row: Column) -> Marked:
        """The domains of ``key`` summed over the rows' ``per_row``."""
        domains = table.domains(key)
        keyed = domains.ids != NO_DOMAIN
        summed = np.bincount(
            domains.ids[keyed], weights=per_row[keyed], minlength=len(domains.values)
        )
        return cls(domains, summed.astype(np.int64))

    @property
    def marked(self) -> Mask:
        return self.counts > 0

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether the domain of a node with ``labels`` is marked."""
        return bool(self.domains.at(self.marked, labels))

    def rows(self) -> Mask:
        """:meth:`holds` of every row."""
        return self.domains.per_row(self.marked)

    def shifted(self, labels: Mapping[str, str], delta: int) -> Marked:
        """A copy with ``delta`` more in the domain of a node with ``labels`` (a what-if
        adding or removing a pod there); unchanged when the node lacks the key."""
        domain = self.domains.index.get(labels.get(self.domains.key, ""), NO_DOMAIN)
        if delta == 0 or domain == NO_DOMAIN or self.domains.key not in labels:
            return self
        counts = self.counts.copy()
        counts[domain] += delta
        return Marked(self.domains, counts)


@dataclass
class FilterState:
    terms: PodTerms
    matches_own_affinity: bool
    table: NodeTable
    existing_anti_affinity: list[Marked] = field(default_factory=list)
    affinity: dict[str, Marked] = field(default_factory=dict)
    anti_affinity: dict[str, Marked] = field(default_factory=dict)
    #: Whether any pod matching every required affinity term is in a domain of one.
    affinity_found: bool = False

    def clone(self) -> FilterState:
        """For a what-if (CycleState.clone): :meth:`with_pod` never changes a Marked in
        place, so the copy shares them."""
        return replace(
            self,
            existing_anti_affinity=list(self.existing_anti_affinity),
            affinity=dict(self.affinity),
            anti_affinity=dict(self.anti_affinity),
        )

    def with_pod(
        self,
        incoming: Object,
        other: PodInfo,
        node: NodeInfo,
        delta: int,
        namespace_labels: NamespaceLabels,
    ) -> None:
        """Count ``other`` in (``delta`` 1) or out (-1) of ``node``'s domains, as
        upstream's PreFilter extensions AddPod and RemovePod: what the incoming pod's
        terms select there, and what ``other``'s anti-affinity says of it."""
        labels = node_labels(node.node)
        required = self.terms.required_affinity
        if required and all(term.matches(other.pod, namespace_labels) for term in required):
            for term in required:
                key = term.topology_key
                self.affinity[key] = self.affinity[key].shifted(labels, delta)
            self.affinity_found = any(m.marked.any() for m in self.affinity.values())
        for term in self.terms.required_anti_affinity:
            if term.matches(other.pod, namespace_labels):
                key = term.topology_key
                self.anti_affinity[key] = self.anti_affinity[key].shifted(labels, delta)
        against: Counter[str] = Counter(
            term.topology_key
            for term in other.affinity_terms.required_anti_affinity
            if term.domain(node.node) is not None and term.matches(incoming, namespace_labels)
        )
        for key, count in against.items():
            self._shift_existing(key, labels, delta * count)

    def _shift_existing(self, key: str, labels: Mapping[str, str], delta: int) -> None:
        for index, marked in enumerate(self.existing_anti_affinity):
            if marked.domains.key == key:
                self.existing_anti_affinity[index] = marked.shifted(labels, delta)
                return
        nothing = np.zeros(len(self.table), dtype=np.int64)
        self.existing_anti_affinity.append(
            Marked.where(self.table, key, nothing).shifted(labels, delta)
        )


def needs_filter(terms: PodTerms, snapshot: Snapshot) -> bool:
    """Whether there is anything to check: the pod's own required terms, or an
    existing pod's required anti-affinity somewhere."""
    return bool(
        terms.required_affinity
        or terms.required_anti_affinity
        or snapshot.has_required_anti_affinity
    )


def pre_filter_state(
    pod: Object, terms: PodTerms, table: NodeTable, namespace_labels: NamespaceLabels
) -> FilterState:
    state = FilterState(
        terms,
        all(term.matches(pod, namespace_labels) for term in terms.required_affinity),
        table,
    )
    state.existing_anti_affinity = [
        Marked.where(table, str(key), column)
        for key, column in _existing_anti_affinity(pod, table, namespace_labels).items()
    ]
    if terms.required_affinity:
        with_all = _matching_rows(table, terms.required_affinity, namespace_labels)
        state.affinity = _by_key(table, terms.required_affinity, lambda _term: with_all)
        state.affinity_found = any(marked.marked.any() for marked in state.affinity.values())
    if terms.required_anti_affinity:
        state.anti_affinity = _by_key(
            table,
            terms.required_anti_affinity,
            lambda term: _matching_rows(table, (term,), namespace_labels),
        )
    return state


def pod_identity(pod: Object, namespace_labels: NamespaceLabels) -> Hashable:
    """All that other pods' terms can see of ``pod``: its namespace, the
    namespace's labels and its own labels."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return (
        namespace,
        frozenset((meta.get("labels") or {}).items()),
        frozenset(namespace_labels(namespace).items()),
    )


def _existing_anti_affinity(
    pod: Object, table: NodeTable, namespace_labels: NamespaceLabels
) -> Mapping[Hashable, Column]:
    """Per topology key, per row: the required anti-affinity terms of the
    row's pods that select ``pod`` (on nodes with that key)."""

    def count(info: NodeInfo) -> Counter[Hashable]:
        found: Counter[Hashable] = Counter()
        for existing in info.pods.values():
            for term in existing.affinity_terms.required_anti_affinity:
                if term.domain(info.node) is not None and term.matches(pod, namespace_labels):
                    found[term.topology_key] += 1
        return found

    key = ("InterPodAffinity.existingAntiAffinity", pod_identity(pod, namespace_labels))
    return table.counts(key, count, table.pods_with_required_anti_affinity > 0)


def terms_key(tag: str, *groups: tuple[AffinityTerm, ...]) -> Hashable | None:
    """What identifies the verdicts of the terms of ``groups`` on a node's pods
    (for :attr:`NodeTable.counts`); None when one selects namespaces by
    label, as namespaces' labels change while no node does."""
    if any(not term.namespace_selector.nothing for group in groups for term in group):
        return None
    return (f"InterPodAffinity.{tag}", groups)


def _matching_rows(
    table: NodeTable, terms: tuple[AffinityTerm, ...], namespace_labels: NamespaceLabels
) -> Column:
    """Per row: its pods that every one of ``terms`` selects."""

    def count(info: NodeInfo) -> int:
        return sum(
            1
            for existing in info.pods.values()
            if all(term.matches(existing.pod, namespace_labels) for term in terms)
        )

    return table.counts.column(terms_key("matching", terms), count, table.pod_count > 0)


def _by_key(
    table: NodeTable, terms: tuple[AffinityTerm, ...], per_row: Callable[[AffinityTerm], Column]
) -> dict[str, Marked]:
    """Per topology key of ``terms``, the domains where any term with that
    key has a positive ``per_row`` (terms sharing a key share its domains)."""
    summed: dict[str, Column] = {}
    for term in terms:
        column = per_row(term)
        found = summed.get(term.topology_key)
        summed[term.topology_key] = column if found is None else found + column
    return {key: Marked.where(table, key, column) for key, column in summed.items()}


def filter_node(state: FilterState, node: NodeInfo) -> Status:
    labels = node_labels(node.node)
    if not _satisfies_affinity(state, labels):
        return st.unresolvable(ERR_REASON_AFFINITY)
    if any(
        state.anti_affinity[term.topology_key].holds(labels)
        for term in state.terms.required_anti_affinity
    ):
        return st.unschedulable(ERR_REASON_ANTI_AFFINITY)
    if any(marked.holds(labels) for marked in state.existing_anti_affinity):
        return st.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
    return st.success()


def _satisfies_affinity(state: FilterState, labels: Mapping[str, str]) -> bool:
    """Every term's domain on the node holds a matching pod; the node must have
    every term's key in any case."""
    found = True
    for term in state.terms.required_affinity:
        if term.topology_key not in labels:
            return False
        if not state.affinity[term.topology_key].holds(labels):
            found = False
    return found or (not state.affinity_found and state.matches_own_affinity)


def filter_rows(state: FilterState, table: NodeTable) -> Mask | None:
    """:func:`filter_node`'s verdict on every row of ``table``; None unless the
    state was counted over this very table."""
    if table is not state.table:
        return None
    passing = np.ones(len(table), dtype=np.bool_)
    if state.terms.required_affinity:
        found = np.ones(len(table), dtype=np.bool_)
        for term in state.terms.required_affinity:
            passing &= table.domains(term.topology_key).ids != NO_DOMAIN
            found &= state.affinity[term.topology_key].rows()
        if state.affinity_found or not state.matches_own_affinity:
            passing &= found
    for marked in (*state.anti_affinity.values(), *state.existing_anti_affinity):
        passing &= ~marked.rows()
    return passing
