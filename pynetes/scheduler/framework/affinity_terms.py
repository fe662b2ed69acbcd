"""Pod affinity terms as InterPodAffinity evaluates them (upstream's
framework.AffinityTerm), parsed once per pod: the cache keeps each existing
pod's on its PodInfo, so scheduling cycles never parse them again.

A term selects pods by labels within a set of namespaces: those it lists,
plus those its namespaceSelector matches (``{}`` all of them); with neither,
the namespace of the pod that carries the term.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.labels import Selector, selector_from_label_selector
from pynetes.scheduler.plugins.helpers.node_selector import node_labels

Object = dict[str, Any]

#: A namespace's labels by its name ({} for one not known).
NamespaceLabels = Callable[[str], Mapping[str, str]]

_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True)
class AffinityTerm:
    topology_key: str
    selector: Selector
    namespaces: frozenset[str]
    namespace_selector: Selector
    weight: int = 0

    def matches(self, pod: Object, namespace_labels: NamespaceLabels) -> bool:
        """Whether ``pod`` is one of the pods this term selects."""
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or ""
        in_scope = namespace in self.namespaces or (
            not self.namespace_selector.nothing
            and self.namespace_selector.matches(namespace_labels(namespace))
        )
        return in_scope and self.selector.matches(meta.get("labels"))

    def domain(self, node: Object | None) -> tuple[str, str] | None:
        """The (key, value) pair of ``node`` this term spans, None if the node lacks the key."""
        value = node_labels(node).get(self.topology_key)
        return None if value is None else (self.topology_key, value)


@dataclass(frozen=True)
class PodTerms:
    """A pod's required and preferred affinity and anti-affinity terms."""

    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[AffinityTerm, ...] = ()
    preferred_anti_affinity: tuple[AffinityTerm, ...] = ()

    @classmethod
    def of(cls, pod: Object) -> PodTerms:
        affinity = (pod.get("spec") or {}).get("affinity") or {}
        if not affinity.get("podAffinity") and not affinity.get("podAntiAffinity"):
            return _NONE
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        together = affinity.get("podAffinity") or {}
        apart = affinity.get("podAntiAffinity") or {}
        return cls(
            _required(together, namespace),
            _required(apart, namespace),
            _preferred(together, namespace),
            _preferred(apart, namespace),
        )


_NONE = PodTerms()


def _required(section: Mapping[str, Any], namespace: str) -> tuple[AffinityTerm, ...]:
    return tuple(_term(item, namespace) for item in section.get(_REQUIRED) or [])


def _preferred(section: Mapping[str, Any], namespace: str) -> tuple[AffinityTerm, ...]:
    return tuple(
        _term(item.get("podAffinityTerm") or {}, namespace, int(item.get("weight") or 0))
        for item in section.get(_PREFERRED) or []
    )


def _term(item: Mapping[str, Any], namespace: str, weight: int = 0) -> AffinityTerm:
    listed = frozenset(item.get("namespaces") or ())
    namespace_selector = item.get("namespaceSelector")
    if not listed and namespace_selector is None:
        listed = frozenset({namespace})
    return AffinityTerm(
        topology_key=item.get("topologyKey") or "",
        selector=selector_from_label_selector(item.get("labelSelector")),
        namespaces=listed,
        namespace_selector=selector_from_label_selector(namespace_selector),
        weight=weight,
    )
