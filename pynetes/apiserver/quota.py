"""The ResourceQuota admission plugin: creates that would exceed a quota are refused.

As upstream's plugin, for a create in a namespace with quotas:

- a quota counts the object if a name of its ``status.hard`` tracks the
  object's resource and its scopes select the object (a quota the
  resourcequota controller has not yet seen therefore limits nothing);
- a quota that tracks ``cpu``/``memory`` requests or limits needs every
  container of a pod to state them (403 ``failed quota: ...: must specify``);
- a quota whose ``status.used`` lacks a tracked name refuses (403
  ``status unknown for quota``) until the controller has counted it;
- the object's use is added to each such quota's ``status.used``; if that
  passes a hard limit the create is refused (403 ``exceeded quota: NAME,
  requested: ..., used: ..., limited: ...``), else the quota is charged in
  the same atomic status update that re-checked it, so two creates cannot
  both take the last unit. The controller later recounts from the objects.

It runs after the object is validated and named and before it is stored;
a dry run checks without charging. Updates of services and claims are
charged what they add (a Service turned LoadBalancer, a claim that asks
for more storage), as upstream's evaluators for them handle updates;
subresources (status) are never charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pynetes.api import errors, meta
from pynetes.api.quantity import Quantity
from pynetes.api.resources import Resource
from pynetes.quota.amounts import ZERO, Amounts, add, increase, parse_list, plus, render
from pynetes.quota.evaluators import (
    PODS,
    Tracked,
    container_usage,
    scope_requirements,
    selected,
    tracked_by,
    usage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynetes.apiserver.registry import ObjectStore

Object = dict[str, Any]

#: The resources whose updates are charged too (upstream's evaluators that handle UPDATE).
_CHARGED_ON_UPDATE = frozenset({("", "services"), ("", "persistentvolumeclaims")})
#: The names for which each container must state its own request or limit (upstream's).
_STATED = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)


class QuotaAdmission:
    """Checks and charges the quotas of a namespace; ``quotas`` finds their store."""

    def __init__(
        self, quotas: Callable[[], ObjectStore | None], clock: Callable[[], datetime]
    ) -> None:
        self._quotas = quotas
        self._clock = clock

    async def admit_create(
        self, resource: Resource, namespace: str, obj: Object, *, dry_run: bool
    ) -> None:
        await self._admit(resource, namespace, obj, None, dry_run=dry_run)

    async def admit_update(
        self, resource: Resource, namespace: str, new: Object, old: Object, *, dry_run: bool
    ) -> None:
        """Charge what an update adds (a service turned LoadBalancer, a claim grown)."""
        if (resource.group, resource.plural) in _CHARGED_ON_UPDATE:
            await self._admit(resource, namespace, new, old, dry_run=dry_run)

    async def _admit(
        self,
        resource: Resource,
        namespace: str,
        obj: Object,
        old: Object | None,
        *,
        dry_run: bool,
    ) -> None:
        """Check ``obj`` (replacing ``old``, if an update) against the namespace's quotas."""
        store = self._quotas()
        if store is None or not namespace or not resource.namespaced:
            return
        tracked = Tracked(resource.group, resource.plural)
        counting: list[tuple[Object, list[str]]] = []
        for cached in store.cache.list(store.key_prefix(namespace)):
            quota = cached.obj
            names = _tracked_names(quota, tracked)
            if not names or not selected(tracked, obj, scope_requirements(quota)):
                continue
            refusal = _unmet_constraints(quota, tracked, obj, names) or _unknown_status(
                quota, names
            )
            if refusal:
                raise _forbidden(resource, obj, refusal)
            counting.append((quota, names))
        if not counting:
            return
        now = self._clock()
        requested = usage(tracked, obj, now)
        if old is not None:
            requested = increase(requested, usage(tracked, old, now))
        if all(quantity.amount == 0 for quantity in requested.values()):
            return
        charges = []
        for quota, names in counting:
            charge = {name: requested[name] for name in names if name in requested}
            exceeded = _exceeded(quota, charge)
            if exceeded:
                raise _forbidden(resource, obj, exceeded)
            charges.append((quota, charge))
        if dry_run:
            return
        for quota, charge in charges:
            await self._charge(store, resource, obj, quota, charge)

    async def _charge(
        self, store: ObjectStore, resource: Resource, obj: Object, quota: Object, charge: Amounts
    ) -> None:
        """Add ``charge`` to the quota's use, re-checking against its stored state."""
        if all(quantity.amount == 0 for quantity in charge.values()):
            return

        def charged(current: Object) -> Object:
            exceeded = _exceeded(current, charge)
            if exceeded:
                raise _forbidden(resource, obj, exceeded)
            status = current.setdefault("status", {})
            used = parse_list(status.get("used"))
            add(used, charge)
            status["used"] = {**(status.get("used") or {}), **render(used)}
            return current

        try:
            await store.update_with(
                meta.namespace_of(quota), meta.name_of(quota), charged, subresource="status"
            )
        except errors.ApiError as error:
            if error.code != 404:  # a quota deleted meanwhile no longer limits
                raise


def _tracked_names(quota: Object, tracked: Tracked) -> list[str]:
    """The names of the quota's ``status.hard`` that count objects of ``tracked``."""
    hard = (quota.get("status") or {}).get("hard") or {}
    return sorted(name for name in hard if tracked_by(name) == tracked)


def _unmet_constraints(
    quota: Object, tracked: Tracked, obj: Object, names: list[str]
) -> str | None:
    """Containers that do not state a request or limit the quota needs (upstream's wording)."""
    required = _STATED.intersection(names)
    if tracked != PODS or not required:
        return None
    missing: dict[str, set[str]] = {}
    spec = obj.get("spec") or {}
    for container in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        stated = container_usage(container)
        for name in required.difference(stated):
            missing.setdefault(name, set()).add(container.get("name") or "")
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return f"failed quota: {meta.name_of(quota)}: must specify {'; '.join(parts)}"


def _unknown_status(quota: Object, names: list[str]) -> str | None:
    used = (quota.get("status") or {}).get("used") or {}
    if all(name in used for name in names):
        return None
    return f"status unknown for quota: {meta.name_of(quota)}, resources: {','.join(names)}"


def _exceeded(quota: Object, charge: Amounts) -> str | None:
    """The refusal if ``charge`` takes the quota past a hard limit, else None."""
    status = quota.get("status") or {}
    hard = parse_list(status.get("hard"))
    used = parse_list(status.get("used"))
    over = sorted(
        name
        for name, quantity in charge.items()
        if name in hard and plus(used.get(name, ZERO), quantity) > hard[name]
    )
    if not over:
        return None
    return (
        f"exceeded quota: {meta.name_of(quota)}, requested: {_listed(charge, over)},"
        f" used: {_listed(used, over)}, limited: {_listed(hard, over)}"
    )


def _listed(amounts: Mapping[str, Quantity], names: list[str]) -> str:
    return ",".join(f"{name}={amounts[name]}" for name in names if name in amounts)


def _forbidden(resource: Resource, obj: Object, reason: str) -> errors.ApiError:
    name = meta.name_of(obj)
    kind = errors.qualified_kind(resource.group, resource.plural)
    return errors.ApiError(
        403,
        "Forbidden",
        f'{kind} "{name}" is forbidden: {reason}',
        name=name,
        group=resource.group,
        kind=resource.plural,
    )
