"""``pods/eviction``: a deletion that spends a PodDisruptionBudget, as upstream's EvictionREST.

- A pod that cannot count against a budget (Pending, Succeeded, Failed or
  already being deleted) is deleted at once.
- A pod no budget selects is deleted; one that more than one budget selects
  is refused (500), as upstream does.
- A pod that is not Ready may go without spending the budget when the budget's
  ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``, or (``IfHealthyBudget``,
  the default) while the budget has its desired healthy pods; the delete is
  then pinned to the pod's resourceVersion so a pod that just became Ready
  is not taken.
- Otherwise the budget must have been computed for its current generation
  and allow a disruption: its ``disruptionsAllowed`` is decremented and the
  pod recorded in ``disruptedPods`` in one atomic status update, then the
  pod is deleted. Refusals are 429 TooManyRequests, which ``kubectl drain``
  retries.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pynetes.api import errors, labels, meta
from pynetes.api.conditions import set_status_condition
from pynetes.api.disruption import (
    DISRUPTION_TARGET,
    MAX_DISRUPTED_PODS,
    allowed_condition,
)
from pynetes.api.pods import is_ready
from pynetes.apiserver.registry import DeleteOptions, ObjectStore

if TYPE_CHECKING:
    from pynetes.apiserver.handlers import ResourceApi

Object = dict[str, Any]

_REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget."
_MORE_THAN_ONE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not"
    " support."
)
#: The condition an evicted pod carries while it terminates (upstream's, PodDisruptionConditions).
_EVICTING = {
    "type": DISRUPTION_TARGET,
    "status": "True",
    "reason": "EvictionByEvictionAPI",
    "message": "Eviction API: evicting",
}
#: Attempts at deleting a budget-free pod whose resourceVersion moves under us (upstream: 20).
_ATTEMPTS = 20


class Eviction:
    """Evicts pods of ``pods`` (the pods' store) under the budgets the API serves."""

    def __init__(self, api: ResourceApi, pods: ObjectStore) -> None:
        self._api = api
        self._pods = pods

    async def evict(self, namespace: str, name: str, options: DeleteOptions) -> None:
        """Evict the pod or raise the ApiError that says why not."""
        pod = await self._delete_if_budget_free(namespace, name, options)
        if pod is None:
            return
        budgets = await self._budgets_of(namespace, pod)
        if len(budgets) > 1:
            raise errors.ApiError(500, "", _MORE_THAN_ONE)
        if not budgets:
            await self._mark_and_delete(namespace, name, options)
            return
        budget = budgets[0]
        if not is_ready(pod) and _unhealthy_may_go(budget):
            await self._delete_pinned(namespace, pod, options, meta.name_of(budget))
            return
        await self._spend(budget, name, dry_run=options.dry_run)
        await self._mark_and_delete(namespace, name, options)

    async def _delete_if_budget_free(
        self, namespace: str, name: str, options: DeleteOptions
    ) -> Object | None:
        """Delete a pod no budget protects and return None; else return the pod."""
        for attempt in range(_ATTEMPTS):
            pod = (await self._pods.get(namespace, name)).obj
            if not _ignores_budgets(pod):
                return pod
            pinned = options if _is_terminal(pod) else _pinned(options, pod)
            try:
                await self._mark_and_delete(namespace, name, pinned)
                return None
            except errors.ApiError as error:
                if error.code != 409 or pinned is options or attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _delete_pinned(
        self, namespace: str, pod: Object, options: DeleteOptions, budget_name: str
    ) -> None:
        """Delete an unready pod only if it is still the pod that was judged."""
        pinned = _pinned(options, pod)
        try:
            await self._mark_and_delete(namespace, meta.name_of(pod), pinned)
        except errors.ApiError as error:
            if error.code == 409 and pinned is not options:
                raise _too_many_requests(_still_processed(budget_name)) from None
            raise

    async def _mark_and_delete(self, namespace: str, name: str, options: DeleteOptions) -> None:
        """Mark the pod a DisruptionTarget (unless a dry run), then delete it.

        The mark honours the delete's preconditions; the delete's pinned
        resourceVersion then moves to the marked pod's, as upstream's does.
        """
        if not options.dry_run:

            def mark(pod: Object) -> Object:
                self._pods.check_preconditions(pod, options, name)
                conditions = pod.setdefault("status", {}).setdefault("conditions", [])
                set_status_condition(conditions, _EVICTING, meta.timestamp(self._api.clock()))
                return pod

            marked = await self._pods.update_with(namespace, name, mark, subresource="status")
            if options.precondition_resource_version:
                options = dataclasses.replace(
                    options, precondition_resource_version=marked["metadata"]["resourceVersion"]
                )
        await self._pods.delete(namespace, name, options)

    async def _budgets_of(self, namespace: str, pod: Object) -> list[Object]:
        resource = self._api.resources.lookup("policy", "v1", "poddisruptionbudgets")
        if resource is None:
            return []
        store = self._api.store_for(resource)
        await store.fresh_cache()
        pod_labels = pod["metadata"].get("labels") or {}
        return [
            cached.obj
            for cached in store.cache.list(store.key_prefix(namespace))
            if _selector(cached.obj).matches(pod_labels)
        ]

    async def _spend(self, budget: Object, pod_name: str, *, dry_run: bool) -> None:
        """Check and decrement the budget's allowed disruptions, recording the pod."""
        resource = self._api.resources.lookup("policy", "v1", "poddisruptionbudgets")
        assert resource is not None
        now = self._api.clock()

        def decrement(current: Object) -> Object:
            status = current.setdefault("status", {})
            _check_spendable(current)
            allowed = status["disruptionsAllowed"] = status.get("disruptionsAllowed", 0) - 1
            if allowed == 0:
                set_status_condition(
                    status.setdefault("conditions", []),
                    allowed_condition(0, status.get("observedGeneration", 0)),
                    meta.timestamp(now),
                )
            status.setdefault("disruptedPods", {})[pod_name] = meta.timestamp(now)
            return current

        await self._api.store_for(resource).update_with(
            meta.namespace_of(budget),
            meta.name_of(budget),
            decrement,
            subresource="status",
            dry_run=dry_run,
        )


def _pinned(options: DeleteOptions, pod: Object) -> DeleteOptions:
    """``options`` with the pod's resourceVersion as precondition, unless the caller gave one.

    The delete then fails (409) if the pod changed since it was judged.
    """
    if options.precondition_resource_version:
        return options
    return dataclasses.replace(
        options, precondition_resource_version=pod["metadata"]["resourceVersion"]
    )


def _check_spendable(budget: Object) -> None:
    """Raise why ``budget`` cannot allow one more disruption now (upstream's order)."""
    name = meta.name_of(budget)
    status = budget.get("status") or {}
    if status.get("observedGeneration", 0) < budget["metadata"].get("generation", 0):
        raise _too_many_requests(_still_processed(name))
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise _forbidden(
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        )
    if allowed == 0:
        raise _too_many_requests(
            f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods"
            f" and has {status.get('currentHealthy', 0)} currently"
        )


def _ignores_budgets(pod: Object) -> bool:
    """A pod that is not running (or is already going) disrupts nothing more when evicted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Pending", "Succeeded", "Failed") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def _is_terminal(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _unhealthy_may_go(budget: Object) -> bool:
    """Whether an unready pod may be evicted without spending ``budget``."""
    if (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = budget.get("status") or {}
    desired = status.get("desiredHealthy", 0)
    return desired > 0 and status.get("currentHealthy", 0) >= desired


def _selector(budget: Object) -> labels.Selector:
    try:
        return labels.selector_from_label_selector((budget.get("spec") or {}).get("selector"))
    except errors.ApiError:  # an invalid selector matches no pod, as upstream
        return labels.NOTHING


def _still_processed(name: str) -> str:
    return f"The disruption budget {name} is still being processed by the server."


def _too_many_requests(cause: str) -> errors.ApiError:
    return errors.ApiError(
        429,
        "TooManyRequests",
        _REFUSAL,
        causes=[{"reason": "DisruptionBudget", "message": cause}],
    )


def _forbidden(name: str, detail: str) -> errors.ApiError:
    return errors.ApiError(
        403,
        "Forbidden",
        f'poddisruptionbudget.policy "{name}" is forbidden: {detail}',
        name=name,
        group="policy",
        kind="poddisruptionbudget",
    )
