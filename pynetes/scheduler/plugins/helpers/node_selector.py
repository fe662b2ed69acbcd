"""Matching nodes against NodeSelectors, node selector terms and a pod's
required node affinity, as upstream's component-helpers/scheduling/corev1.

Terms are ORed, a term's requirements ANDed; an empty term matches nothing.
A requirement that cannot be evaluated (an unknown operator, a Gt bound
that is not an integer) makes its term match nothing, as upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.labels import Operator, Requirement, Selector

Object = dict[str, Any]

_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def node_labels(node: Object | None) -> dict[str, str]:
    return ((node or {}).get("metadata") or {}).get("labels") or {}


def node_name(node: Object | None) -> str:
    return ((node or {}).get("metadata") or {}).get("name") or ""


def term_matches(term: Mapping[str, Any], node: Object) -> bool:
    """One NodeSelectorTerm: its matchExpressions on labels and matchFields on
    ``metadata.name``, all of them; an empty term matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = _selector(expressions)
    by_name = _selector(fields, only_key="metadata.name")
    if labels is None or by_name is None:
        return False
    return labels.matches(node_labels(node)) and by_name.matches({"metadata.name": node_name(node)})


def terms_match(terms: list[Mapping[str, Any]], node: Object) -> bool:
    """A NodeSelector's terms, ORed."""
    return any(term_matches(term, node) for term in terms)


def required_node_affinity_matches(pod: Object, node: Object) -> bool:
    """``spec.nodeSelector`` and the required node affinity terms, both (upstream's
    GetRequiredNodeAffinity(pod).Match(node))."""
    spec = pod.get("spec") or {}
    labels = node_labels(node)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = required_terms(pod)
    return required is None or terms_match(required, node)


def required_terms(pod: Object) -> list[Mapping[str, Any]] | None:
    """The pod's requiredDuringSchedulingIgnoredDuringExecution terms; None if it has none."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    selector = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if selector is None:
        return None
    return selector.get("nodeSelectorTerms") or []


def preferred_terms(pod: Object) -> list[Mapping[str, Any]]:
    """The pod's preferredDuringSchedulingIgnoredDuringExecution (weight, preference) items."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    return affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []


def _selector(
    requirements: list[Mapping[str, Any]], only_key: str | None = None
) -> Selector | None:
    parsed = []
    for requirement in requirements:
        operator = _OPERATORS.get(requirement.get("operator") or "")
        key = requirement.get("key") or ""
        values = tuple(requirement.get("values") or ())
        if operator is None or (only_key is not None and key != only_key):
            return None
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and not _single_int(values):
            return None
        parsed.append(Requirement(key, operator, values))
    return Selector(parsed)


def _single_int(values: tuple[str, ...]) -> bool:
    if len(values) != 1:
        return False
    try:
        int(values[0])
    except ValueError:
        return False
    return True
