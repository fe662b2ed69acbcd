"""A pod's topology spread constraints as the plugin evaluates them (upstream's
internal topologySpreadConstraint), and the pod counting they all rely on.

``matchLabelKeys`` is folded into the selector here (the incoming pod's values
for those keys, ANDed), and the node inclusion policies get their defaults:
nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore; minDomains defaults to 1.

The ``*_rows`` functions answer the same questions for every row of a
:class:`NodeTable` at once; what they count per node is kept by the table
between cycles, so only the nodes that changed are looked at again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pynetes.api.labels import Operator, Requirement, Selector, selector_from_label_selector
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.node_table import (
    HARD_TAINT_EFFECTS,
    NO_DOMAIN,
    Column,
    Mask,
    NodeTable,
)
from pynetes.scheduler.plugins.helpers.node_selector import (
    node_labels,
    required_node_affinity_matches,
    required_terms,
)
from pynetes.scheduler.plugins.helpers.taints import first_untolerated, node_taints

Object = dict[str, Any]

DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE

    def includes_rows(self, pod: Object, table: NodeTable) -> Mask:
        """Whether each row's node's domain counts at all for ``pod`` under the
        inclusion policies (Honor: only nodes the pod's node affinity /
        tolerations allow). Rows without a Node have no domain, so callers
        leave them out anyway."""
        included = np.ones(len(table), dtype=np.bool_)
        if self.node_affinity_policy == HONOR:
            included &= _node_affinity_rows(pod, table)
        if self.node_taints_policy == HONOR:
            included &= table.exact(table.hard_taints, lambda info: _tolerated(pod, info.node))
        return included

    def includes(self, pod: Object, node: Object) -> bool:
        """:meth:`includes_rows` for one node."""
        if self.node_affinity_policy == HONOR and not required_node_affinity_matches(pod, node):
            return False
        return self.node_taints_policy != HONOR or _tolerated(pod, node)


def _tolerated(pod: Object, node: Object | None) -> bool:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return first_untolerated(node_taints(node), tolerations, HARD_TAINT_EFFECTS) is None


def _node_affinity_rows(pod: Object, table: NodeTable) -> Mask:
    """required_node_affinity_matches for every row; kept per node selector."""
    selector = (pod.get("spec") or {}).get("nodeSelector")
    required = required_terms(pod)
    if not selector and required is None:
        return np.ones(len(table), dtype=np.bool_)
    key = ("PodTopologySpread.nodeAffinity", json.dumps([selector, required], sort_keys=True))

    def matches(info: NodeInfo) -> int:
        return int(info.node is not None and required_node_affinity_matches(pod, info.node))

    return table.counts.column(key, matches, None) > 0


def pod_constraints(pod: Object, action: str) -> list[Constraint]:
    """The pod's own constraints whose whenUnsatisfiable is ``action``."""
    labels = pod_labels(pod)
    return [
        _constraint(item, labels)
        for item in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
        if item.get("whenUnsatisfiable") == action
    ]


def default_constraints(
    pod: Object, items: Iterable[Mapping[str, Any]], action: str, selector: Selector
) -> list[Constraint]:
    """The plugin's default constraints whose whenUnsatisfiable is ``action``, all
    counting the pods ``selector`` (the pod's :func:`.defaults.default_selector`) selects."""
    labels = pod_labels(pod)
    return [
        replace(_constraint(item, labels), selector=selector)
        for item in items
        if item.get("whenUnsatisfiable") == action
    ]


def has_own_constraints(pod: Object) -> bool:
    return bool((pod.get("spec") or {}).get("topologySpreadConstraints"))


def _constraint(item: Mapping[str, Any], labels: Mapping[str, str]) -> Constraint:
    selector = selector_from_label_selector(item.get("labelSelector"))
    keys = {key: labels[key] for key in item.get("matchLabelKeys") or [] if key in labels}
    if keys and not selector.nothing:
        extra = [Requirement(key, Operator.IN, (value,)) for key, value in keys.items()]
        selector = Selector([*selector.requirements, *extra])
    return Constraint(
        max_skew=int(item.get("maxSkew") or 1),
        topology_key=item.get("topologyKey") or "",
        selector=selector,
        min_domains=int(item.get("minDomains") or 1),
        node_affinity_policy=item.get("nodeAffinityPolicy") or HONOR,
        node_taints_policy=item.get("nodeTaintsPolicy") or IGNORE,
    )


def pod_labels(pod: Object) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def pod_namespace(pod: Object) -> str:
    return (pod.get("metadata") or {}).get("namespace") or ""


def has_all_keys(node: Object | None, constraints: Iterable[Constraint]) -> bool:
    """Upstream's nodeLabelsMatchSpreadConstraints: the node has every topology key."""
    labels = node_labels(node)
    return all(c.topology_key in labels for c in constraints)


def has_all_keys_rows(table: NodeTable, constraints: Iterable[Constraint]) -> Mask:
    """:func:`has_all_keys` for every row."""
    found = np.ones(len(table), dtype=np.bool_)
    for constraint in constraints:
        found &= table.domains(constraint.topology_key).ids != NO_DOMAIN
    return found


def matching_rows(table: NodeTable, selector: Selector, namespace: str) -> Column:
    """:func:`count_matching` of every row's pods."""
    return table.counts.column(
        ("PodTopologySpread.matching", namespace, selector),
        lambda info: count_matching(info.pods.values(), selector, namespace),
        table.pod_count > 0,
    )


def count_matching(pods: Iterable[PodInfo], selector: Selector, namespace: str) -> int:
    """Pods in ``namespace``, not terminating, whose labels ``selector`` matches."""
    count = 0
    for info in pods:
        meta = info.pod.get("metadata") or {}
        if (
            meta.get("namespace") == namespace
            and not meta.get("deletionTimestamp")
            and selector.matches(meta.get("labels"))
        ):
            count += 1
    return count
