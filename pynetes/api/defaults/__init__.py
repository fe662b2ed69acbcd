"""Server-side defaulting of the built-in kinds, as kube-apiserver 1.31 does it.

Upstream runs generated defaulters on every decode: for an object, its own
``SetDefaults_<Kind>``, then, going down, the ``SetDefaults_<Type>`` of every
nested struct that has one (a Deployment's pod template gets the PodSpec,
Container, Probe ... defaults). Here each API group module maps definition
names to in-place defaulters, and a plan per definition, compiled once from
the schema, walks only the fields under which some defaulter can apply.

What upstream's JSON encoding adds is written too, so that objects look as
``kubectl get -o yaml`` shows them: non-pointer structs that are always
present (``resources: {}``, ``status: {}``), ``creationTimestamp: null`` in
templates, status counters at 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson

from pynetes.api import schema
from pynetes.api.defaults import (
    apiextensions,
    apps,
    batch,
    certificates,
    core,
    discovery,
    networking,
    policy,
    rbac,
    scheduling,
    storage,
)
from pynetes.api.defaults.core import (
    default_pod_priority,
    default_toleration_seconds,
    image_tag,
    label_namespace_name,
    namespace_finalizers_on_create,
    service_ip_families,
)

__all__ = [
    "apply_defaults",
    "default_pod_priority",
    "default_toleration_seconds",
    "image_tag",
    "label_namespace_name",
    "namespace_finalizers_on_create",
    "service_ip_families",
]

Defaulter = Callable[[dict[str, Any]], None]

_DEFAULTERS: dict[str, Defaulter] = {
    **core.DEFAULTERS,
    **apps.DEFAULTERS,
    **batch.DEFAULTERS,
    **certificates.DEFAULTERS,
    **policy.DEFAULTERS,
    **scheduling.DEFAULTERS,
    **rbac.DEFAULTERS,
    **networking.DEFAULTERS,
    **discovery.DEFAULTERS,
    **storage.DEFAULTERS,
    **apiextensions.DEFAULTERS,
}


def apply_defaults(group: str, version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with upstream's defaults applied: a new dict, ``obj`` untouched.

    The input is often the decoded request body that the caller still
    needs (for a warning, a diff, a retry), so the defaults go on a copy.
    ``obj`` must have passed structural validation: a field of the wrong
    type where a struct belongs is replaced. A kind without defaults comes
    back as a plain copy. Defaulting twice changes nothing, as upstream
    relies on: it defaults again on every read from storage.
    """
    copied: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    name = schema.definition_name(group, version, kind)
    if name is not None:
        _plan(name).apply(copied)
    return copied


# ---------------------------------------------------------------------------
# Plans: where, under a definition, defaulters can apply

_ONE, _LIST, _MAP = "one", "list", "map"


class _Plan:
    """Default one object of a definition, then walk the fields that need it."""

    __slots__ = ("children", "defaulter")

    def __init__(self, defaulter: Defaulter | None) -> None:
        self.defaulter = defaulter
        self.children: list[tuple[str, str, _Plan]] = []

    def apply(self, obj: dict[str, Any]) -> None:
        if self.defaulter is not None:
            self.defaulter(obj)
        for key, shape, plan in self.children:
            value = obj.get(key)
            if shape is _ONE:
                items: Any = (value,)
            elif shape is _LIST:
                items = value if type(value) is list else ()
            else:
                items = value.values() if type(value) is dict else ()
            for item in items:
                if type(item) is dict:
                    plan.apply(item)


@functools.cache
def _plan(name: str) -> _Plan:
    """The plan of a definition (built once; only for definitions that need one)."""
    plan = _Plan(_DEFAULTERS.get(name))
    for key, node in schema.resolve(schema.definition(name)).get("properties", {}).items():
        target = _target(node)
        if target is not None and _needs_defaults(target[1]):
            plan.children.append((key, target[0], _plan(target[1])))
    return plan


def _target(node: schema.Node) -> tuple[str, str] | None:
    """(shape, definition) of a field holding one, a list or a map of a definition."""
    name = schema.ref_name(node)
    if name is not None:
        return _ONE, name
    items = schema.items(node)
    if items is not None and schema.ref_name(items) is not None:
        return _LIST, str(schema.ref_name(items))
    additional = node.get("additionalProperties")
    if isinstance(additional, dict) and schema.ref_name(additional) is not None:
        return _MAP, str(schema.ref_name(additional))
    return None


@functools.cache
def _needs_defaults(name: str) -> bool:
    """Whether a defaulter applies to the definition or anything below it."""
    return _reaches_defaulter(name, frozenset())


def _reaches_defaulter(name: str, visiting: frozenset[str]) -> bool:
    if name in _DEFAULTERS:
        return True
    if name in visiting:
        return False
    visiting = visiting | {name}
    for node in schema.resolve(schema.definition(name)).get("properties", {}).values():
        target = _target(node)
        if target is not None and _reaches_defaulter(target[1], visiting):
            return True
    return False
