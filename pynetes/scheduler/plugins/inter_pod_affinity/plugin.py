"""InterPodAffinity's extension points (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.resources import built_in
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.affinity_terms import NamespaceLabels, PodTerms
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    Handle,
    PreFilterResult,
)
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.snapshot import table_for
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.inter_pod_affinity.filtering import (
    FilterState,
    filter_node,
    filter_rows,
    needs_filter,
    pre_filter_state,
)
from pynetes.scheduler.plugins.inter_pod_affinity.scoring import (
    ScoreArgs,
    ScoreState,
    domain_scores,
    normalize,
    normalize_rows,
    score_node,
    score_rows,
)

NAME = "InterPodAffinity"
NAMESPACES = built_in("", "v1", "namespaces")
_FILTER_KEY = f"PreFilter{NAME}"
_SCORE_KEY = f"PreScore{NAME}"
_TERMS_KEY = f"{NAME}/terms"

Object = dict[str, Any]


class InterPodAffinity:
    name = NAME

    def __init__(self, args: ScoreArgs, handle: Handle, namespace_labels: NamespaceLabels) -> None:
        self.args = args
        self._handle = handle
        self._namespace_labels = namespace_labels

    def events_to_register(self) -> list[ClusterEvent]:
        """Pods coming, going or relabelled change what matches; node labels the domains."""
        return [ClusterEvent("Pod", ActionType.ALL), ClusterEvent("Node", ActionType.ALL)]

    def pre_filter(
        self, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        terms = _terms(state, pod)
        snapshot = self._handle.snapshot()
        if not needs_filter(terms, snapshot):
            return None, st.skip()
        table = table_for(snapshot, nodes)
        state.write(_FILTER_KEY, pre_filter_state(pod, terms, table, self._namespace_labels))
        return None, st.success()

    def filter(self, state: CycleState, _pod: Object, node: NodeInfo) -> Status:
        filter_state: FilterState = state.read(_FILTER_KEY)
        return filter_node(filter_state, node)

    def add_pod(self, state: CycleState, pod: Object, added: PodInfo, node: NodeInfo) -> None:
        """A what-if puts ``added`` on ``node`` (a nominated pod, a reprieved victim)."""
        filter_state: FilterState = state.read(_FILTER_KEY)
        filter_state.with_pod(pod, added, node, 1, self._namespace_labels)

    def remove_pod(self, state: CycleState, pod: Object, removed: PodInfo, node: NodeInfo) -> None:
        """A what-if takes ``removed`` off ``node`` (a preemption victim)."""
        filter_state: FilterState = state.read(_FILTER_KEY)
        filter_state.with_pod(pod, removed, node, -1, self._namespace_labels)

    def filter_many(self, state: CycleState, _pod: Object, table: NodeTable) -> Mask | None:
        filter_state: FilterState = state.read(_FILTER_KEY)
        return filter_rows(filter_state, table)

    def pre_score(self, state: CycleState, pod: Object, nodes: list[NodeInfo]) -> Status:
        """Skip when no domain gets a weight: nothing to prefer."""
        terms = _terms(state, pod)
        has_own = bool(terms.preferred_affinity or terms.preferred_anti_affinity)
        if not nodes or (self.args.ignore_preferred_terms_of_existing_pods and not has_own):
            return st.skip()
        table = self._handle.snapshot().table()
        scores = domain_scores(pod, terms, table, self._namespace_labels, self.args)
        if scores is None:
            return st.skip()
        state.write(_SCORE_KEY, scores)
        return st.success()

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        scores: ScoreState = state.read(_SCORE_KEY)
        return score_node(scores, node)

    def score_many(
        self, state: CycleState, _pod: Object, table: NodeTable, rows: Rows
    ) -> Column | None:
        scores: ScoreState = state.read(_SCORE_KEY)
        return score_rows(scores, table, rows)

    def normalize_scores(self, _state: CycleState, _pod: Object, scores: dict[str, int]) -> None:
        normalize(scores)

    def normalize_many(self, _state: CycleState, _pod: Object, scores: Column) -> Column:
        return normalize_rows(scores)


def _terms(state: CycleState, pod: Object) -> PodTerms:
    """The pod's terms, parsed once a cycle: PreFilter and PreScore both need them."""
    terms: PodTerms | None = state.data.get(_TERMS_KEY)
    if terms is None:
        terms = PodTerms.of(pod)
        state.write(_TERMS_KEY, terms)
    return terms


def parse_args(args: Mapping[str, Any] | None) -> ScoreArgs:
    """InterPodAffinityArgs, defaulted and validated as upstream's."""
    args = args or {}
    weight = args.get("hardPodAffinityWeight", 1)
    if not isinstance(weight, int) or not 0 <= weight <= 100:
        raise ValueError(
            f"hardPodAffinityWeight: Invalid value: {weight}: not in valid range [0-100]"
        )
    return ScoreArgs(weight, bool(args.get("ignorePreferredTermsOfExistingPods", False)))


def new(args: Mapping[str, Any] | None, handle: Handle) -> InterPodAffinity:
    """Namespace labels come from a namespace informer started with the scheduler's
    (namespaceSelector terms need them); without informers no namespace has labels."""
    if handle.informers is None:
        return InterPodAffinity(parse_args(args), handle, lambda _name: {})
    lister = handle.informers.informer(NAMESPACES).lister

    def namespace_labels(name: str) -> Mapping[str, str]:
        namespace = lister.get(name) or {}
        return (namespace.get("metadata") or {}).get("labels") or {}

    return InterPodAffinity(parse_args(args), handle, namespace_labels)
