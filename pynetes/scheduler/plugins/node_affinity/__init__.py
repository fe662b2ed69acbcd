"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter nodes;
preferred terms add their weights to the score of the nodes they match."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    Handle,
    PreFilterResult,
)
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.helpers.node_selector import (
    preferred_terms,
    required_node_affinity_matches,
    required_terms,
    term_matches,
)
from pynetes.scheduler.plugins.helpers.normalize import default_normalize_score

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_STATE_KEY = f"PreScore{NAME}"

Object = dict[str, Any]


class NodeAffinity:
    name = NAME

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE)]

    def pre_filter(
        self, _state: CycleState, pod: Object, _nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """Skip pods without a node selector or required affinity; narrow the
        nodes to those named when every term selects by ``metadata.name`` In."""
        terms = required_terms(pod)
        if terms is None and not (pod.get("spec") or {}).get("nodeSelector"):
            return None, st.skip()
        return PreFilterResult(_named_nodes(terms or [])), st.success()

    def filter(self, _state: CycleState, pod: Object, node: NodeInfo) -> Status:
        if node.node is not None and required_node_affinity_matches(pod, node.node):
            return st.success()
        return st.unresolvable(ERR_REASON_POD)

    def pre_score(self, state: CycleState, pod: Object, _nodes: list[NodeInfo]) -> Status:
        preferred = preferred_terms(pod)
        if not preferred:
            return st.skip()
        state.write(_STATE_KEY, preferred)
        return st.success()

    def score(self, state: CycleState, _pod: Object, node: NodeInfo) -> int:
        """The sum of the weights of the preferred terms ``node`` matches."""
        if node.node is None:
            return 0
        return sum(
            int(item.get("weight") or 0)
            for item in state.read(_STATE_KEY)
            if term_matches(item.get("preference") or {}, node.node)
        )

    def normalize_scores(self, _state: CycleState, _pod: Object, scores: dict[str, int]) -> None:
        default_normalize_score(scores, reverse=False)


def _named_nodes(terms: list[Mapping[str, Any]]) -> frozenset[str] | None:
    """The node names every term restricts itself to by matchFields, or None (any)."""
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        named = [
            field
            for field in term.get("matchFields") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In"
        ]
        if not named:
            return None
        names.update(*(field.get("values") or [] for field in named))
    return frozenset(names)


def new(_args: Mapping[str, Any] | None, _handle: Handle) -> NodeAffinity:
    return NodeAffinity()
