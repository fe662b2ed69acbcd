"""The disruption controller: the status of every PodDisruptionBudget (policy/v1).

As upstream's DisruptionController: a budget's pods are those of its
namespace its selector matches. From them it computes

- ``expectedPods``: how many pods there should be. A budget with an integer
  ``minAvailable`` expects the pods it sees; a percentage ``minAvailable``
  or any ``maxUnavailable`` expects the sum of the scales of the pods'
  controllers (a Deployment through its ReplicaSet, a ReplicaSet, a
  ReplicationController, a StatefulSet, or anything with a ``scale``
  subresource); pods with no controller are left out, with a warning;
- ``desiredHealthy``: ``minAvailable`` (a percentage of the expected pods,
  rounded up), or the expected pods less ``maxUnavailable`` (rounded up);
- ``currentHealthy``: the pods that are Ready, not being deleted and not
  evicted within the last two minutes (``disruptedPods``, where the API
  server's eviction records the pods it let go);
- ``disruptionsAllowed``: ``currentHealthy - desiredHealthy`` (never below
  zero, and zero while no pod is expected), which the eviction subresource
  spends;

and the ``DisruptionAllowed`` condition. When the expected count cannot be
found (a controller that is missing or has no scale) the status fails safe:
no disruptions allowed, reason ``SyncFailed`` with the error as message,
retried with backoff.

It also resets a pod's ``DisruptionTarget`` condition (set by an eviction
or a preemption) when the pod is still not being deleted two minutes later,
as upstream's stale-pod-disruption worker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynetes.api import labels, meta
from pynetes.api.conditions import find_condition, set_status_condition
from pynetes.api.disruption import (
    DELETION_TIMEOUT,
    DISRUPTION_ALLOWED,
    DISRUPTION_TARGET,
    allowed_condition,
)
from pynetes.api.intstr import scaled_value
from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.rest import ApiClient
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)

Object = dict[str, Any]

BUDGETS = built_in("policy", "v1", "poddisruptionbudgets")
PODS = built_in("", "v1", "pods")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
DEPLOYMENTS = built_in("apps", "v1", "deployments")
STATEFUL_SETS = built_in("apps", "v1", "statefulsets")
REPLICATION_CONTROLLERS = built_in("", "v1", "replicationcontrollers")

#: How long a pod may carry a DisruptionTarget condition without being deleted.
STALE_DISRUPTION_TIMEOUT = 120.0


class ExpectedCountError(Exception):
    """The pods' expected count cannot be known; the message goes into the condition."""


@dataclass(frozen=True)
class Owner:
    """A pod's controller as far as budgets care: its identity and desired replicas."""

    uid: str
    replicas: int


@dataclass
class Computed:
    """A budget's status numbers before they are written."""

    current_healthy: int
    desired_healthy: int
    expected_pods: int
    disrupted_pods: dict[str, str]
    unmanaged_pods: list[str] = field(default_factory=list)
    #: Wall-clock second at which an entry of ``disrupted_pods`` expires (None: none left).
    recheck_at: float | None = None

    @property
    def disruptions_allowed(self) -> int:
        if self.expected_pods <= 0:
            return 0
        return max(self.current_healthy - self.desired_healthy, 0)


# -- pure computations (unit-tested) ------------------------------------------


def _seconds(text: Any) -> float | None:
    moment = meta.parse_timestamp(text) if isinstance(text, str) else None
    return None if moment is None else moment.timestamp()


def live_disruptions(
    recorded: dict[str, str] | None, pods: list[Object], now: float
) -> tuple[dict[str, str], float | None]:
    """The entries of ``disruptedPods`` still in force, and when the first of them expires.

    An entry goes once its pod is gone or being deleted (the eviction went
    through) or once ``DELETION_TIMEOUT`` has passed (it did not).
    """
    recorded = recorded or {}
    kept: dict[str, str] = {}
    recheck_at: float | None = None
    for pod in pods:
        name = meta.name_of(pod)
        if pod["metadata"].get("deletionTimestamp") or name not in recorded:
            continue
        evicted_at = _seconds(recorded[name])
        if evicted_at is None or evicted_at + DELETION_TIMEOUT < now:
            continue
        kept[name] = recorded[name]
        expires = evicted_at + DELETION_TIMEOUT
        recheck_at = expires if recheck_at is None else min(recheck_at, expires)
    return kept, recheck_at


def count_healthy(pods: list[Object], disrupted: dict[str, str]) -> int:
    """Ready pods that are neither being deleted nor recently evicted."""
    return sum(
        1
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and meta.name_of(pod) not in disrupted
        and is_ready(pod)
    )


def desired_and_expected(spec: Object, pods: list[Object], scale: int | None) -> tuple[int, int]:
    """(desiredHealthy, expectedPods) from the budget's spec.

    ``scale`` is the sum of the pods' controllers' replicas; it is needed
    (not None) unless ``minAvailable`` is an integer.
    """
    max_unavailable = spec.get("maxUnavailable")
    min_available = spec.get("minAvailable")
    if max_unavailable is None and min_available is None:
        return 0, 0  # a budget that asks nothing expects nothing (and so allows nothing)
    if max_unavailable is None and isinstance(min_available, int):
        return min_available, len(pods)
    assert scale is not None, "the controllers' scale is needed"
    try:
        if max_unavailable is not None:
            unavailable = scaled_value(max_unavailable, scale, round_up=True)
            return max(scale - unavailable, 0), scale
        return scaled_value(min_available, scale, round_up=True), scale
    except ValueError as error:
        raise ExpectedCountError(str(error)) from None


def needs_scale(spec: Object) -> bool:
    """Whether the budget is relative to its pods' controllers' scale."""
    min_available = spec.get("minAvailable")
    return spec.get("maxUnavailable") is not None or isinstance(min_available, str)


def status_of(budget: Object, computed: Computed, now: str) -> Object:
    """The budget's new status, its DisruptionAllowed condition updated."""
    generation = budget["metadata"].get("generation", 0)
    status = budget.get("status") or {}
    allowed = computed.disruptions_allowed
    conditions = [dict(condition) for condition in status.get("conditions") or ()]
    set_status_condition(conditions, allowed_condition(allowed, generation), now)
    new: Object = {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": computed.current_healthy,
        "desiredHealthy": computed.desired_healthy,
        "expectedPods": computed.expected_pods,
        "conditions": conditions,
    }
    if computed.disrupted_pods:
        new["disruptedPods"] = computed.disrupted_pods
    return new


def stale_condition_wait(pod: Object, now: float) -> float | None:
    """Seconds until the pod's DisruptionTarget is stale (0: it is); None if it never will be.

    As upstream: a True condition on a pod that is neither being deleted nor
    finished goes stale ``STALE_DISRUPTION_TIMEOUT`` after it was set, unless
    the kubelet set it (its termination may legitimately take longer).
    """
    status = pod.get("status") or {}
    condition = find_condition(status.get("conditions"), DISRUPTION_TARGET)
    if (
        condition is None
        or condition.get("status") != "True"
        or condition.get("reason") == "TerminationByKubelet"
        or pod["metadata"].get("deletionTimestamp")
        or status.get("phase") in ("Succeeded", "Failed")
    ):
        return None
    since = _seconds(condition.get("lastTransitionTime")) or now
    return max(since + STALE_DISRUPTION_TIMEOUT - now, 0.0)


def failed_status(budget: Object, message: str, now: str) -> Object:
    """The fail-safe status: nothing may be disrupted, and the condition says why."""
    status = dict(budget.get("status") or {})
    conditions = [dict(condition) for condition in status.get("conditions") or ()]
    set_status_condition(
        conditions,
        {
            "type": DISRUPTION_ALLOWED,
            "status": "False",
            "reason": "SyncFailed",
            "message": message,
            "observedGeneration": status.get("observedGeneration", 0),
        },
        now,
    )
    return {**status, "disruptionsAllowed": 0, "conditions": conditions}


# -- the controller -----------------------------------------------------------


class DisruptionController:
    """Keeps each PodDisruptionBudget's status true to its pods."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._wall_clock = context.wall_clock
        self._recorder = context.recorder("controllermanager")
        informers = context.informers
        budgets = informers.informer(BUDGETS)
        pods = informers.informer(PODS)
        self._budgets = Lister(budgets.store)
        self._pods = Lister(pods.store)
        self._owners = ScaleFinder(
            context.client,
            replica_sets=Lister(informers.informer(REPLICA_SETS).store),
            deployments=Lister(informers.informer(DEPLOYMENTS).store),
            stateful_sets=Lister(informers.informer(STATEFUL_SETS).store),
            replication_controllers=Lister(informers.informer(REPLICATION_CONTROLLERS).store),
        )
        self._controller = Controller(
            "disruption",
            self._sync,
            queue=context.queue("disruption"),
        )
        queue = self._controller.queue

        def budget_changed(budget: Object) -> None:
            queue.add(f"{meta.namespace_of(budget)}/{meta.name_of(budget)}")

        budgets.add_event_handler(
            EventHandler(
                on_add=budget_changed,
                on_update=lambda _old, new: budget_changed(new),
                on_delete=budget_changed,
            )
        )

        def pod_changed(old: Object | None, new: Object) -> None:
            for pod in (old, new) if old is not None else (new,):
                for budget in self._budgets_of(pod):
                    budget_changed(budget)

        pods.add_event_handler(
            EventHandler(
                on_add=lambda pod: pod_changed(None, pod),
                on_update=pod_changed,
                on_delete=lambda pod: pod_changed(None, pod),
            )
        )
        self._stale = Controller(
            "stale_pod_disruption",
            self._sync_stale_pod,
            queue=context.queue("stale_pod_disruption"),
        )
        pods.add_event_handler(
            EventHandler(
                on_add=self._watch_for_stale_condition,
                on_update=lambda _old, new: self._watch_for_stale_condition(new),
            )
        )

    async def run(self) -> None:
        async with asyncio.TaskGroup() as controllers:
            controllers.create_task(self._controller.run())
            controllers.create_task(self._stale.run())

    # -- stale DisruptionTarget conditions -----------------------------------------

    def _watch_for_stale_condition(self, pod: Object) -> None:
        """Queue a pod whose DisruptionTarget condition will be stale, for when it is."""
        wait = stale_condition_wait(pod, self._wall_clock())
        if wait is None:
            return
        key = f"{meta.namespace_of(pod)}/{meta.name_of(pod)}"
        if wait > 0:
            self._stale.queue.add_after(key, wait)
        else:
            self._stale.queue.add(key)

    async def _sync_stale_pod(self, key: str) -> Result:
        """Reset the DisruptionTarget of a pod that was marked but not deleted in time."""
        namespace, _, name = key.partition("/")
        pod = self._pods.get(name, namespace)
        now = self._wall_clock()
        wait = None if pod is None else stale_condition_wait(pod, now)
        if wait is None:
            return Result()
        if wait > 0:
            return Result(requeue_after=wait)
        reset = {
            "type": DISRUPTION_TARGET,
            "status": "False",
            "reason": None,
            "message": None,
            "lastTransitionTime": _text(now),
        }
        with contextlib.suppress(errors.NotFound):  # gone: nothing left to reset
            await self._client.patch(
                PODS,
                name,
                {"status": {"conditions": [reset]}},
                patch_type="strategic",
                namespace=namespace,
                subresource="status",
            )
        return Result()

    def _budgets_of(self, pod: Object) -> list[Object]:
        pod_labels = pod["metadata"].get("labels") or {}
        return [
            budget
            for budget in self._budgets.list(meta.namespace_of(pod))
            if _selector(budget).matches(pod_labels)
        ]

    def _pods_of(self, budget: Object) -> list[Object]:
        return self._pods.list(meta.namespace_of(budget), _selector(budget))

    async def _sync(self, key: str) -> Result:
        namespace, _, name = key.partition("/")
        budget = self._budgets.get(name, namespace)
        if budget is None:
            return Result()
        now = self._wall_clock()
        try:
            computed = await self._compute(budget, now)
        except ExpectedCountError as error:
            self._recorder.event(
                budget,
                "Warning",
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {error}",
            )
            await self._write(budget, failed_status(budget, str(error), _text(now)))
            return Result(requeue=True)  # with backoff: the controller may yet appear
        self._report_unmanaged(budget, computed.unmanaged_pods)
        new_status = status_of(budget, computed, _text(now))
        result = await self._write(budget, new_status)
        if result == Result() and computed.recheck_at is not None:
            return Result(requeue_after=max(computed.recheck_at - now, 0.001))
        return result

    async def _compute(self, budget: Object, now: float) -> Computed:
        pods = self._pods_of(budget)
        if not pods:
            self._recorder.event(budget, "Normal", "NoPods", "No matching pods found")
        spec = budget.get("spec") or {}
        scale, unmanaged = await self._owners.expected_scale(pods) if needs_scale(spec) else (0, [])
        desired, expected = desired_and_expected(spec, pods, scale)
        recorded = (budget.get("status") or {}).get("disruptedPods")
        disrupted, recheck_at = live_disruptions(recorded, pods, now)
        self._report_expired(budget, recorded or {}, disrupted, pods)
        return Computed(
            current_healthy=count_healthy(pods, disrupted),
            desired_healthy=desired,
            expected_pods=expected,
            disrupted_pods=disrupted,
            unmanaged_pods=unmanaged,
            recheck_at=recheck_at,
        )

    def _report_unmanaged(self, budget: Object, unmanaged: list[str]) -> None:
        if not unmanaged:
            return
        log.info("budget %s selects pods without a controller: %s", meta.name_of(budget), unmanaged)
        self._recorder.event(
            budget,
            "Warning",
            "UnmanagedPods",
            f"Pods selected by this PodDisruptionBudget (selector: {_selector(budget)}) were found"
            " to be unmanaged. As a result, the status of the PDB cannot be calculated correctly,"
            " which may result in undefined behavior. To account for these pods please set"
            ' ".spec.minAvailable" field of the PDB to an integer value.',
        )

    def _report_expired(
        self, budget: Object, recorded: dict[str, str], kept: dict[str, str], pods: list[Object]
    ) -> None:
        """An evicted pod that is still there after the timeout gets a warning."""
        for pod in pods:
            name = meta.name_of(pod)
            if (
                name in recorded
                and name not in kept
                and not pod["metadata"].get("deletionTimestamp")
            ):
                self._recorder.event(
                    pod,
                    "Warning",
                    "NotDeleted",
                    f"Pod was expected by PDB {meta.namespace_of(budget)}/{meta.name_of(budget)}"
                    " to be deleted but it wasn't",
                )

    async def _write(self, budget: Object, status: Object) -> Result:
        if _same_status(budget, status):
            return Result()
        updated = {**budget, "status": status}
        try:
            await self._client.replace(BUDGETS, updated, subresource="status")
        except (errors.Conflict, errors.NotFound):
            return Result(requeue=True)  # a newer budget (or none) is on its way to the cache
        return Result()


def _same_status(budget: Object, status: Object) -> bool:
    """Whether writing ``status`` would change nothing (transition times aside)."""
    current = budget.get("status") or {}

    def comparable(value: Object) -> Object:
        conditions = [
            {k: v for k, v in condition.items() if k != "lastTransitionTime"}
            for condition in value.get("conditions") or ()
        ]
        rest = {k: v for k, v in value.items() if k != "conditions" and v not in (None, {})}
        return {**rest, "conditions": conditions}

    return comparable(current) == comparable(status)


def _selector(budget: Object) -> labels.Selector:
    try:
        return labels.selector_from_label_selector((budget.get("spec") or {}).get("selector"))
    except Exception:  # the API validates selectors; a bad one selects nothing here
        return labels.NOTHING


def _text(now: float) -> str:
    return meta.timestamp(datetime.fromtimestamp(now, UTC))


class ScaleFinder:
    """The desired replicas of pods' controllers (upstream's finders, in their order).

    Built-in workloads are read from the shared informers; any other kind
    through its ``scale`` subresource.
    """

    def __init__(
        self,
        client: ApiClient,
        *,
        replica_sets: Lister,
        deployments: Lister,
        stateful_sets: Lister,
        replication_controllers: Lister,
    ) -> None:
        self._client = client
        self._replica_sets = replica_sets
        self._deployments = deployments
        self._stateful_sets = stateful_sets
        self._replication_controllers = replication_controllers

    async def expected_scale(self, pods: list[Object]) -> tuple[int, list[str]]:
        """The sum of the replicas of the pods' controllers, and the pods without one.

        Raises :class:`ExpectedCountError` for a pod whose controller cannot be found.
        """
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            reference = meta.controller_of(pod)
            if reference is None:
                unmanaged.append(meta.name_of(pod))
                continue
            if reference.get("uid") in scales:
                continue
            owner = await self._owner(reference, meta.namespace_of(pod))
            if owner is None:
                raise ExpectedCountError(f'found no controllers for pod "{meta.name_of(pod)}"')
            scales[owner.uid] = owner.replicas
        return sum(scales.values()), unmanaged

    async def _owner(self, reference: Object, namespace: str) -> Owner | None:
        group = _group_of(reference.get("apiVersion") or "")
        kind = reference.get("kind")
        name = reference.get("name") or ""
        uid = reference.get("uid")
        if (group, kind) == ("apps", "ReplicaSet"):
            replica_set = _owned(self._replica_sets.get(name, namespace), uid)
            if replica_set is None:
                return None
            return self._deployment_of(replica_set, namespace) or _as_owner(replica_set)
        listers = {
            ("apps", "Deployment"): self._deployments,
            ("apps", "StatefulSet"): self._stateful_sets,
            ("", "ReplicationController"): self._replication_controllers,
        }
        lister = listers.get((group, kind or ""))
        if lister is not None:
            found = _owned(lister.get(name, namespace), uid)
            return None if found is None else _as_owner(found)
        return await self._scale_owner(reference, namespace)

    def _deployment_of(self, replica_set: Object, namespace: str) -> Owner | None:
        reference = meta.controller_of(replica_set)
        if reference is None or reference.get("kind") != "Deployment":
            return None
        if _group_of(reference.get("apiVersion") or "") != "apps":
            return None
        name = reference.get("name") or ""
        deployment = _owned(self._deployments.get(name, namespace), reference.get("uid"))
        return None if deployment is None else _as_owner(deployment)

    async def _scale_owner(self, reference: Object, namespace: str) -> Owner | None:
        """Any other controller: its Scale, its resource found through discovery."""
        api_version = reference.get("apiVersion") or ""
        prefix = "/api/v1" if "/" not in api_version else f"/apis/{api_version}"
        plural = await self._scalable_plural(prefix, api_version, reference.get("kind") or "")
        path = f"{prefix}/namespaces/{namespace}/{plural}/{reference.get('name')}/scale"
        try:
            scale = await self._client.request("GET", path)
        except errors.NotFound:
            return None
        except errors.ApiError as error:
            raise ExpectedCountError(str(error)) from None
        if (scale.get("metadata") or {}).get("uid") != reference.get("uid"):
            return None
        return Owner(reference["uid"], int((scale.get("spec") or {}).get("replicas") or 0))

    async def _scalable_plural(self, prefix: str, api_version: str, kind: str) -> str:
        """The resource serving ``kind``; ExpectedCountError if none or if it cannot scale."""
        try:
            listing = await self._client.request("GET", prefix)
        except errors.ApiError:
            listing = {}
        resources = listing.get("resources") or []
        names = {resource.get("name") for resource in resources}
        for resource in resources:
            plural = resource.get("name") or "/"
            if resource.get("kind") == kind and "/" not in plural:
                if f"{plural}/scale" not in names:
                    qualified = f"{plural}.{_group_of(api_version)}".rstrip(".")
                    raise ExpectedCountError(
                        f"{qualified} does not implement the scale subresource"
                    )
                return plural
        raise ExpectedCountError(f'no matches for kind "{kind}" in version "{api_version}"')


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _owned(found: Object | None, uid: str | None) -> Object | None:
    """``found`` if it is the object the reference means (the same uid)."""
    if found is None or found["metadata"].get("uid") != uid:
        return None
    return found


def _as_owner(workload: Object) -> Owner:
    replicas = (workload.get("spec") or {}).get("replicas")
    return Owner(workload["metadata"]["uid"], 1 if replicas is None else int(replicas))


CONTROLLER = ControllerDescriptor(
    name="disruption",
    build=DisruptionController,
)
