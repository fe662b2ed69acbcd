"""The daemonset controller: one pod of each DaemonSet on every node that may run it.

As upstream's DaemonSetsController. A sync of a DaemonSet:

1. claims its pods and its ControllerRevisions, and finds (or makes) the
   revision of its current template, whose hash labels the new pods;
2. unless earlier creations or deletions are still unseen (expectations),
   creates a pod for each eligible node without one (pinned to it by a
   required node affinity on ``metadata.name``, so the default scheduler
   binds it), deletes pods on nodes that may no longer run them, extra pods
   and failed pods (under a per-node backoff), then takes one rolling
   update step;
3. forgets revisions beyond ``revisionHistoryLimit`` no pod uses, and
   writes the status counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynetes.api.labels import Selector, selector_from_label_selector
from pynetes.api.meta import controller_of
from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.flowcontrol import Clock
from pynetes.controller import Controller, Expectations, Result, UIDTrackingExpectations
from pynetes.controllermanager.common.history import (
    CONTROLLER_REVISION_HASH,
    CONTROLLER_REVISIONS,
    RevisionHistory,
    next_number,
    sorted_revisions,
    template_patch,
)
from pynetes.controllermanager.common.ownership import (
    ControllerRefManager,
    controlling_owner,
    owner_selector,
    owner_still_adoptable,
)
from pynetes.controllermanager.common.podcontrol import pod_from_template, slow_start_batches
from pynetes.controllermanager.common.pods import is_available
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.daemonset.placement import (
    Eligibility,
    NodePlan,
    RollingLimits,
    SurgeState,
    daemon_template,
    eligibility,
    is_updated,
    pinned_to,
    plan_node,
    pods_by_node,
    rolling_step,
    unscheduled_without_node,
)

log = logging.getLogger(__name__)
Object = dict[str, Any]

DAEMON_SETS = built_in("apps", "v1", "daemonsets")
PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
KIND = "DaemonSet"
API_VERSION = "apps/v1"
#: Upstream's BurstReplicas: at most this many creations (or deletions) per sync.
BURST_REPLICAS = 250
#: The backoff of deleting a node's failed daemon pods (upstream's failedPodsBackoff).
FAILED_POD_BACKOFF = (1.0, 15 * 60.0)


class FailedPodBackoff:
    """Per (DaemonSet, node) delays between deleting failed pods, doubling up to a cap,
    so a kubelet that keeps rejecting a pod is not fought in a hot loop."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, float]] = {}

    def remaining(self, key: str) -> float:
        """Seconds until ``key`` may act again (0: now)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        delay, since = entry
        return max(since + delay - self._clock(), 0.0)

    def step(self, key: str) -> None:
        """``key`` acted: its next delay doubles (or starts at the initial one)."""
        initial, cap = FAILED_POD_BACKOFF
        entry = self._entries.get(key)
        now = self._clock()
        stale = entry is None or now - entry[1] > 2 * cap
        delay = initial if stale or entry is None else min(entry[0] * 2, cap)
        self._entries[key] = (delay, now)


class DaemonSetsController:
    """Keeps each DaemonSet's pods one per eligible node, at its current template."""

    def __init__(self, context: ControllerContext, workers: int) -> None:
        self._client = context.client
        self._recorder = context.recorder("daemonset-controller")
        self._wall_clock = context.wall_clock
        daemon_sets = context.informers.informer(DAEMON_SETS)
        pods = context.informers.informer(PODS)
        nodes = context.informers.informer(NODES)
        revisions = context.informers.informer(CONTROLLER_REVISIONS)
        self._daemon_sets = Lister(daemon_sets.store)
        self._pods = Lister(pods.store)
        self._nodes = Lister(nodes.store)
        self._revisions = Lister(revisions.store)
        self._history = RevisionHistory(
            self._client, DAEMON_SETS, API_VERSION, KIND, hash_label=CONTROLLER_REVISION_HASH
        )
        self._expectations = UIDTrackingExpectations(Expectations(context.clock))
        self._backoff = FailedPodBackoff(context.clock)
        self._controller = Controller(
            "daemonset", self._sync, workers=workers, queue=context.queue("daemonset")
        )
        daemon_sets.add_event_handler(
            EventHandler(
                on_add=self._enqueue,
                on_update=lambda _old, new: self._enqueue(new),
                on_delete=self._daemon_set_deleted,
            )
        )
        pods.add_event_handler(
            EventHandler(
                on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_gone
            )
        )
        nodes.add_event_handler(
            EventHandler(
                on_add=lambda _node: self._enqueue_all(),
                on_update=self._node_updated,
                on_delete=lambda _node: self._enqueue_all(),
            )
        )
        revisions.add_event_handler(
            EventHandler(
                on_add=self._enqueue_owner,
                on_update=lambda _old, new: self._enqueue_owner(new),
                on_delete=self._enqueue_owner,
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events --------------------------------------------------------------

    def _enqueue(self, daemon_set: Object) -> None:
        self._controller.queue.add(object_key(daemon_set))

    def _enqueue_all(self) -> None:
        for daemon_set in self._daemon_sets.list():
            self._enqueue(daemon_set)

    def _daemon_set_deleted(self, daemon_set: Object) -> None:
        self._expectations.delete_expectations(object_key(daemon_set))
        self._enqueue(daemon_set)

    def _owner_key(self, obj: Object) -> str | None:
        """The key of the DaemonSet controlling ``obj``, if it is one we know."""
        owner = controlling_owner(obj, KIND, self._daemon_sets)
        return None if owner is None else object_key(owner)

    def _enqueue_owner(self, obj: Object) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self._controller.queue.add(key)

    def _enqueue_matching(self, pod: Object) -> None:
        """An orphan: every DaemonSet that might adopt it."""
        labels = pod["metadata"].get("labels")
        for daemon_set in self._daemon_sets.list(pod["metadata"].get("namespace")):
            if owner_selector(daemon_set).matches(labels):
                self._enqueue(daemon_set)

    def _pod_added(self, pod: Object) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_gone(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self._expectations.creation_observed(key)
            self._controller.queue.add(key)
        elif controller_of(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if new["metadata"].get("deletionTimestamp"):
            self._pod_gone(new)
        old_key = self._owner_key(old)
        new_key = self._owner_key(new)
        if old_key is not None and old_key != new_key:
            self._controller.queue.add(old_key)
        if new_key is not None:
            self._controller.queue.add(new_key)
        elif controller_of(new) is None:
            self._enqueue_matching(new)

    def _pod_gone(self, pod: Object) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self._expectations.deletion_observed(key, object_key(pod))
            self._controller.queue.add(key)

    def _node_updated(self, old: Object, new: Object) -> None:
        """Only what placement reads matters: labels, taints, the node name's spec."""
        if old["metadata"].get("labels") != new["metadata"].get("labels") or old.get(
            "spec"
        ) != new.get("spec"):
            self._enqueue_all()

    # -- sync ----------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, name = key.split("/", 1)
        daemon_set = self._daemon_sets.get(name, namespace)
        if daemon_set is None:
            self._expectations.delete_expectations(key)
            return Result()
        try:
            selector = selector_from_label_selector(daemon_set["spec"].get("selector"))
        except errors.ApiError as error:
            self._recorder.event(daemon_set, "Warning", "InvalidSelector", str(error))
            return Result()
        if selector.empty:
            self._recorder.event(
                daemon_set,
                "Warning",
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return Result()
        if daemon_set["metadata"].get("deletionTimestamp"):
            return Result()
        hash_value, old_revisions, collisions = await self._current_revision(daemon_set, selector)
        pods = await self._claim_pods(daemon_set, selector)
        nodes = self._nodes.list()
        result = Result()
        if self._expectations.satisfied(key):
            result = await self._update(key, daemon_set, nodes, pods, hash_value)
            await self._forget_unused(daemon_set, old_revisions, pods)
        requeue_after = await self._write_status(daemon_set, nodes, pods, hash_value, collisions)
        if result == Result() and requeue_after:
            return Result(requeue_after=requeue_after)
        return result

    async def _claim_pods(self, daemon_set: Object, selector: Selector) -> list[Object]:
        manager = ControllerRefManager(
            self._client,
            PODS,
            daemon_set,
            API_VERSION,
            KIND,
            selector,
            owner_still_adoptable(self._client, DAEMON_SETS, daemon_set),
        )
        return await manager.claim(self._pods.list(daemon_set["metadata"]["namespace"]))

    async def _current_revision(
        self, daemon_set: Object, selector: Selector
    ) -> tuple[str, list[Object], int]:
        """The current template's hash, the older revisions and the collision count
        (upstream's constructHistory): the revision equal to the template is
        reused (duplicates merged), or created; it is numbered above every older one
        (never lowered, when old ones are forgotten)."""
        revisions = await self._history.claim(
            daemon_set,
            selector,
            self._revisions.list(daemon_set["metadata"]["namespace"]),
        )
        collisions = int((daemon_set.get("status") or {}).get("collisionCount") or 0)
        data = template_patch(daemon_set)
        current = [r for r in revisions if r.get("data") == data]
        old = [r for r in revisions if r.get("data") != data]
        if not current:
            revision, collisions = await self._history.create(
                daemon_set, next_number(old), collisions
            )
        else:
            *duplicates, revision = sorted_revisions(current)
            for duplicate in duplicates:
                await self._merge_duplicate(daemon_set, duplicate, revision)
        if (revision.get("revision") or 0) < next_number(old):
            revision = await self._history.renumber(revision, next_number(old))
        return _hash_of(revision), old, collisions

    async def _merge_duplicate(self, daemon_set: Object, duplicate: Object, kept: Object) -> None:
        """Relabel the pods of ``duplicate`` with ``kept``'s hash, then delete it."""
        old_hash = (duplicate["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH)
        new_hash = _hash_of(kept)
        namespace = daemon_set["metadata"]["namespace"]
        for pod in self._pods.list(namespace):
            if old_hash and (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) == (
                old_hash
            ):
                patch = {"metadata": {"labels": {CONTROLLER_REVISION_HASH: new_hash}}}
                with contextlib.suppress(errors.NotFound):
                    await self._client.patch(
                        PODS, pod["metadata"]["name"], patch, namespace=namespace
                    )
        await self._history.delete(duplicate)

    async def _update(
        self, key: str, daemon_set: Object, nodes: list[Object], pods: list[Object], hash_value: str
    ) -> Result:
        """Create, delete and roll: everything one sync may write to pods."""
        template = daemon_template(daemon_set, hash_value)
        by_node = pods_by_node(pods)
        fits = {node["metadata"]["name"]: eligibility(template, node) for node in nodes}
        surge = self._surge_state(daemon_set, hash_value, fits)
        plan = NodePlan()
        for node_name, fit in sorted(fits.items()):
            plan_node(plan, node_name, fit, by_node.get(node_name, []), surge)
        plan.delete.extend(unscheduled_without_node(by_node, fits))
        retry_after = self._delete_failed(daemon_set, plan)
        if plan.create_on or plan.delete:
            return await self._write_pods(key, daemon_set, template, plan.create_on, plan.delete)
        if _strategy(daemon_set) == "RollingUpdate":
            result = await self._roll(key, daemon_set, template, fits, by_node, hash_value)
            if result != Result():
                return result
        return Result(requeue_after=retry_after) if retry_after else Result()

    def _delete_failed(self, daemon_set: Object, plan: NodePlan) -> float:
        """Move the failed pods whose node is out of backoff into ``plan.delete``; the
        seconds until the next one is (0: none waits)."""
        waits = []
        for node_name, pod in plan.failed:
            backoff_key = f"{daemon_set['metadata']['uid']}/{node_name}"
            remaining = self._backoff.remaining(backoff_key)
            if remaining > 0:
                waits.append(remaining)
                continue
            self._backoff.step(backoff_key)
            phase = (pod.get("status") or {}).get("phase", "").lower()
            self._recorder.event(
                daemon_set,
                "Warning",
                "FailedDaemonPod",
                f"Found {phase} daemon pod {pod['metadata']['namespace']}/"
                f"{pod['metadata']['name']} on node {node_name}, will try to kill it",
            )
            plan.delete.append(pod)
        return min(waits, default=0.0)

    def _surge_state(
        self,
        daemon_set: Object,
        hash_value: str,
        fits: dict[str, Eligibility],
    ) -> SurgeState | None:
        if _strategy(daemon_set) != "RollingUpdate":
            return None
        desired = sum(1 for fit in fits.values() if fit.should_run)
        try:
            limits = RollingLimits.of(daemon_set, desired)
        except ValueError:
            return None
        if limits.max_surge == 0:
            return None
        return SurgeState(
            hash_value,
            daemon_set["metadata"].get("generation"),
            _min_ready_seconds(daemon_set),
            self._now(),
        )

    async def _roll(
        self,
        key: str,
        daemon_set: Object,
        template: Object,
        fits: dict[str, Eligibility],
        by_node: dict[str | None, list[Object]],
        hash_value: str,
    ) -> Result:
        # every node with pods takes part (an old pod on a node now tainted goes too,
        # as upstream's), and every node that should run one and has none yet
        nodes = {name: pods for name, pods in by_node.items() if name is not None}
        desired = [name for name, fit in fits.items() if fit.should_run]
        for name in desired:
            nodes.setdefault(name, [])
        try:
            limits = RollingLimits.of(daemon_set, len(desired))
        except ValueError as error:
            self._recorder.event(daemon_set, "Warning", "InvalidUpdateStrategy", str(error))
            return Result()
        generation = daemon_set["metadata"].get("generation")
        now = self._now()
        min_ready = _min_ready_seconds(daemon_set)
        step = rolling_step(
            nodes,
            limits,
            lambda pod: is_updated(pod, hash_value, generation),
            lambda pod: is_available(pod, min_ready, now),
        )
        if not step.delete and not step.surge_on:
            return Result()
        return await self._write_pods(key, daemon_set, template, step.surge_on, step.delete)

    async def _write_pods(
        self,
        key: str,
        daemon_set: Object,
        template: Object,
        create_on: list[str],
        delete: list[Object],
    ) -> Result:
        """Create a pod on each of ``create_on`` and delete ``delete`` (upstream's
        syncNodes), at most :data:`BURST_REPLICAS` of each, expecting to see them."""
        create_on = create_on[:BURST_REPLICAS]
        delete = delete[:BURST_REPLICAS]
        self._expectations.expect_deletions(key, [object_key(pod) for pod in delete])
        self._expectations.expectations.raise_expectations(key, len(create_on), 0)
        created_ok = await self._create(key, daemon_set, template, create_on)
        deleted_ok = await self._delete(key, daemon_set, delete)
        return Result() if created_ok and deleted_ok else Result(requeue=True)

    async def _create(
        self, key: str, daemon_set: Object, template: Object, create_on: list[str]
    ) -> bool:
        nodes: Iterator[str] = iter(create_on)

        async def create_next() -> None:
            node_name = next(nodes)
            pod = pod_from_template(
                {**template, "spec": pinned_to(template.get("spec") or {}, node_name)},
                daemon_set,
                API_VERSION,
                KIND,
            )
            try:
                created = await self._client.create(PODS, pod)
            except errors.ApiError as error:
                if not errors.namespace_terminating(error):
                    self._recorder.event(
                        daemon_set, "Warning", "FailedCreate", f"Error creating: {error}"
                    )
                raise
            self._recorder.event(
                daemon_set,
                "Normal",
                "SuccessfulCreate",
                f"Created pod: {created['metadata']['name']}",
            )

        done, failure = await slow_start_batches(len(create_on), create_next)
        if failure is None:
            return True
        # creations that failed or were never tried will never be seen
        self._expectations.expectations.lower_expectations(key, len(create_on) - done, 0)
        log.warning("daemonset %s: creating pods failed: %s", key, failure)
        return False

    async def _delete(self, key: str, daemon_set: Object, delete: list[Object]) -> bool:
        async def delete_one(pod: Object) -> bool:
            namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            try:
                await self._client.delete(
                    PODS, name, namespace=namespace, preconditions={"uid": pod["metadata"]["uid"]}
                )
            except errors.NotFound:
                self._expectations.deletion_observed(key, object_key(pod))
                return True
            except errors.ApiError as error:
                self._expectations.deletion_observed(key, object_key(pod))
                self._recorder.event(
                    daemon_set, "Warning", "FailedDelete", f"Error deleting: {error}"
                )
                return False
            self._recorder.event(daemon_set, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
            return True

        outcomes = await asyncio.gather(*(delete_one(pod) for pod in delete))
        return all(outcomes)

    async def _forget_unused(
        self, daemon_set: Object, old_revisions: list[Object], pods: list[Object]
    ) -> None:
        """Delete old revisions beyond ``revisionHistoryLimit`` that no pod was made from."""
        live = {(p["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) for p in pods}
        in_use = {
            r["metadata"]["name"]
            for r in old_revisions
            if (r["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) in live
        }
        keep = int(daemon_set["spec"].get("revisionHistoryLimit", 10))
        await self._history.truncate(old_revisions, keep, in_use)

    # -- status --------------------------------------------------------------

    async def _write_status(
        self,
        daemon_set: Object,
        nodes: list[Object],
        pods: list[Object],
        hash_value: str,
        collisions: int,
    ) -> float:
        """Write the counts if they changed; seconds until a ready pod may become available
        (0 when none is waiting for minReadySeconds)."""
        status = self._status(daemon_set, nodes, pods, hash_value)
        status["collisionCount"] = collisions or None
        current = daemon_set.get("status") or {}
        if any(current.get(field) != value for field, value in status.items()):
            try:
                await self._client.patch(
                    DAEMON_SETS,
                    daemon_set["metadata"]["name"],
                    {"status": status},
                    namespace=daemon_set["metadata"]["namespace"],
                    subresource="status",
                )
            except errors.NotFound:
                return 0.0
        min_ready = _min_ready_seconds(daemon_set)
        waiting = min_ready > 0 and status["numberReady"] != status["numberAvailable"]
        return min_ready if waiting else 0.0

    def _status(
        self, daemon_set: Object, nodes: list[Object], pods: list[Object], hash_value: str
    ) -> Object:
        """Upstream's updateDaemonSetStatus counts, over the oldest pod on each node."""
        template = daemon_template(daemon_set, hash_value)
        by_node = pods_by_node(pods)
        generation = daemon_set["metadata"].get("generation")
        min_ready = _min_ready_seconds(daemon_set)
        now = self._now()
        counts = dict.fromkeys(
            (
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberMisscheduled",
                "numberReady",
                "updatedNumberScheduled",
                "numberAvailable",
            ),
            0,
        )
        for node in nodes:
            on_node = by_node.get(node["metadata"]["name"], [])
            if not eligibility(template, node).should_run:
                counts["numberMisscheduled"] += bool(on_node)
                continue
            counts["desiredNumberScheduled"] += 1
            if not on_node:
                continue
            counts["currentNumberScheduled"] += 1
            pod = on_node[0]
            counts["numberReady"] += is_ready(pod)
            counts["numberAvailable"] += is_available(pod, min_ready, now)
            counts["updatedNumberScheduled"] += is_updated(pod, hash_value, generation)
        # omitted when zero, as upstream's omitempty field (null removes it in a merge patch)
        unavailable = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        return {
            **counts,
            "numberUnavailable": unavailable or None,
            "observedGeneration": generation,
        }

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall_clock(), UTC)


def _hash_of(revision: Object) -> str:
    """A revision's hash: its label, else (a revision adopted without one) its name's tail."""
    labels = revision["metadata"].get("labels") or {}
    return labels.get(CONTROLLER_REVISION_HASH) or revision["metadata"]["name"].rsplit("-", 1)[-1]


def _strategy(daemon_set: Object) -> str:
    return (daemon_set["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate"


def _min_ready_seconds(daemon_set: Object) -> float:
    return float(daemon_set["spec"].get("minReadySeconds") or 0)
