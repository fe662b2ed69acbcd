"""The scheduler: informers feed the cache and the queue; one loop pops a pod,
decides, assumes it and hands the binding to a task of its own (upstream's
scheduleOne with its asynchronous binding cycle).

It takes only pods whose ``spec.schedulerName`` names one of its profiles and
that have no node. A decision is recorded as upstream does: a ``Scheduled``
event on success; on failure a ``FailedScheduling`` event with the aggregated
reasons and the pod's ``PodScheduled`` condition set False with reason
``Unschedulable``, and the pod requeued.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pynetes.api.meta import timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler, SharedInformerFactory
from pynetes.client.events import NORMAL, WARNING, EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.scheduler.algorithm import Algorithm, Diagnosis, Outcome, fit_error_message
from pynetes.scheduler.cache import SchedulerCache, assigned_node
from pynetes.scheduler.config import SchedulerConfiguration
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import ActionType, ClusterEvent, Handle
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo
from pynetes.scheduler.framework.registry import Registry
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.metrics import ERROR, SCHEDULED, UNSCHEDULABLE, SchedulerMetrics
from pynetes.scheduler.plugins.registry import in_tree_registry
from pynetes.scheduler.queue import CallLater, SchedulingQueue

log = logging.getLogger(__name__)

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")

Object = dict[str, Any]

#: Node fields whose change can make a pod fit (upstream's nodeSchedulingPropertiesChange).
_NODE_SCHEDULING_FIELDS: tuple[Callable[[Object], Any], ...] = (
    lambda node: node.get("spec"),
    lambda node: (node.get("metadata") or {}).get("labels"),
    lambda node: (node.get("status") or {}).get("allocatable"),
    lambda node: [
        (condition.get("type"), condition.get("status"))
        for condition in (node.get("status") or {}).get("conditions") or []
    ],
)


class Scheduler:
    """Schedules pods for every profile of ``config`` through ``client``.

    ``registry`` defaults to the in-tree plugins (add your own to it first);
    ``recorders`` maps each profile's schedulerName to its event recorder
    (made from the client by default). ``clock``, ``call_later`` and ``rng``
    drive the queue's timers and the tie-breaks.
    """

    def __init__(
        self,
        client: ApiClient,
        config: SchedulerConfiguration,
        *,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.monotonic,
        call_later: CallLater | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.snapshot = Snapshot()
        handle = Handle(client, lambda: self.snapshot)
        registry = registry or in_tree_registry()
        self.frameworks = {
            profile.scheduler_name: Framework(profile, registry, handle)
            for profile in config.profiles
        }
        self._percentages = {
            profile.scheduler_name: profile.percentage_of_nodes_to_score
            if profile.percentage_of_nodes_to_score is not None
            else config.percentage_of_nodes_to_score
            for profile in config.profiles
        }
        first = next(iter(self.frameworks.values()))
        events: dict[str, list[ClusterEvent]] = {}
        for framework in self.frameworks.values():
            events.update(framework.events_to_register())
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(
            first.less,
            events,
            initial_backoff=config.pod_initial_backoff_seconds,
            max_backoff=config.pod_max_backoff_seconds,
            clock=clock,
            call_later=call_later,
        )
        self.metrics = SchedulerMetrics(self.queue.pending)
        self.algorithm = Algorithm(rng, self.metrics.observe_extension_point)
        self.recorders = {name: EventRecorder(client, name) for name in self.frameworks}
        self._clock = clock
        self._informers = SharedInformerFactory(client)
        self._binding_tasks: set[asyncio.Task[None]] = set()
        #: Set once the informers' caches are synced and scheduling begins.
        self.synced = asyncio.Event()

    # -- running -------------------------------------------------------------

    async def run(self) -> None:
        """Watch, then schedule until cancelled; cleans up on the way out."""
        pods = self._informers.informer(PODS)
        nodes = self._informers.informer(NODES)
        nodes.add_event_handler(
            EventHandler(self._node_added, self._node_updated, self.cache.remove_node)
        )
        pods.add_event_handler(EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        self._informers.start()
        try:
            await self._informers.wait_for_cache_sync()
            log.info("caches synced; scheduling for %s", ", ".join(self.frameworks))
            self.synced.set()
            while await self.schedule_one():
                pass
        finally:
            await self.close()

    async def close(self) -> None:
        self.queue.close()
        for task in list(self._binding_tasks):
            task.cancel()
        await asyncio.gather(*self._binding_tasks, return_exceptions=True)
        await self._informers.shutdown()
        for recorder in self.recorders.values():
            await recorder.close()

    async def schedule_one(self) -> bool:
        """One scheduling cycle; False once the queue is closed."""
        info = await self.queue.pop()
        if info is None:
            return False
        pod = info.pod
        framework = self.frameworks[_scheduler_name(pod)]
        started = self._clock()
        cycle = self.queue.scheduling_cycle
        state = CycleState()
        self.cache.update_snapshot(self.snapshot)
        percentage = self._percentages[framework.profile_name]
        try:
            outcome = self.algorithm.schedule(framework, state, pod, self.snapshot, percentage)
        except Exception as error:
            log.exception("scheduling %s failed", _describe(pod))
            outcome = Outcome(None, Diagnosis(), error=str(error))
        self.metrics.algorithm_duration.observe(self._clock() - started)
        if outcome.node is None:
            await self._on_failure(framework, info, outcome, cycle, started)
            return True
        assumed = self.cache.assume_pod(pod, outcome.node)
        status = framework.run_reserve(state, assumed, outcome.node)
        if not status.is_success:
            self.cache.forget_pod(assumed)
            await self._fail(framework, info, status.message, cycle, started, error=True)
            return True
        task = asyncio.create_task(
            self._binding_cycle(framework, state, info, assumed, outcome.node, cycle, started)
        )
        self._binding_tasks.add(task)
        task.add_done_callback(self._binding_tasks.discard)
        return True

    # -- binding -------------------------------------------------------------

    async def _binding_cycle(
        self,
        framework: Framework,
        state: CycleState,
        info: QueuedPodInfo,
        assumed: Object,
        node: str,
        cycle: int,
        started: float,
    ) -> None:
        status = await self._timed_point(
            "PreBind", framework, framework.run_pre_bind(state, assumed, node)
        )
        if status.is_success:
            status = await self._timed_point(
                "Bind", framework, framework.run_bind(state, assumed, node)
            )
        if not status.is_success:
            framework.run_unreserve(state, assumed, node)
            self.cache.forget_pod(assumed)
            self.queue.move_on(ClusterEvent("Pod", ActionType.DELETE))
            await self._fail(framework, info, status.message, cycle, started, error=True)
            return
        self.queue.done(info.key)
        self.metrics.observe(SCHEDULED, framework.profile_name, self._clock() - started)
        self.recorders[framework.profile_name].event(
            info.pod, NORMAL, "Scheduled", f"Successfully assigned {_describe(info.pod)} to {node}"
        )
        await framework.run_post_bind(state, assumed, node)

    async def _timed_point(
        self, point: str, framework: Framework, run: Awaitable[Status]
    ) -> Status:
        """``run``'s status, its duration observed as the extension point ``point``."""
        began = time.perf_counter()
        status = await run
        self.metrics.observe_extension_point(
            point, status, framework.profile_name, time.perf_counter() - began
        )
        return status

    # -- failures ------------------------------------------------------------

    async def _on_failure(
        self,
        framework: Framework,
        info: QueuedPodInfo,
        outcome: Outcome,
        cycle: int,
        started: float,
    ) -> None:
        if outcome.error:
            await self._fail(framework, info, outcome.error, cycle, started, error=True)
            return
        info.unschedulable_plugins = outcome.diagnosis.unschedulable_plugins
        message = fit_error_message(len(self.snapshot), outcome.diagnosis)
        await self._fail(framework, info, message, cycle, started, error=False)

    async def _fail(
        self,
        framework: Framework,
        info: QueuedPodInfo,
        message: str,
        cycle: int,
        started: float,
        *,
        error: bool,
    ) -> None:
        """Record the failure (event, condition, metric) and requeue the pod."""
        result = ERROR if error else UNSCHEDULABLE
        self.metrics.observe(result, framework.profile_name, self._clock() - started)
        log.info("unable to schedule %s: %s", _describe(info.pod), message)
        self.recorders[framework.profile_name].event(info.pod, WARNING, "FailedScheduling", message)
        self.queue.add_unschedulable(info, cycle, error=error)
        await self._set_unschedulable_condition(info.pod, message, error=error)

    async def _set_unschedulable_condition(self, pod: Object, message: str, *, error: bool) -> None:
        """PodScheduled=False on the pod's status, as upstream's updatePod.

        Reason ``Unschedulable`` for a pod no node fits, ``SchedulerError``
        otherwise. Skipped when the condition already says so.
        """
        reason = "SchedulerError" if error else "Unschedulable"
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == reason
                and condition.get("message") == message
            ):
                return
        patch = {
            "status": {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": None,
                        "lastTransitionTime": timestamp(datetime.now(UTC)),
                    }
                ]
            }
        }
        meta = pod["metadata"]
        try:
            await self.client.patch(
                PODS,
                meta["name"],
                patch,
                patch_type="strategic",
                namespace=meta.get("namespace"),
                subresource="status",
            )
        except errors.ApiError as failure:
            log.warning("could not update the condition of %s: %s", _describe(pod), failure)

    # -- informer handlers ---------------------------------------------------

    def _responsible(self, pod: Object) -> bool:
        return _scheduler_name(pod) in self.frameworks

    def _pod_added(self, pod: Object) -> None:
        if assigned_node(pod):
            self.cache.add_pod(pod)
            self.queue.move_on(ClusterEvent("Pod", ActionType.ADD))
        elif self._responsible(pod) and not _terminal(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if assigned_node(new):
            if not assigned_node(old):
                self.queue.delete(new)
            self.cache.update_pod(new)
        elif self._responsible(new) and not _terminal(new) and _pod_changed(old, new):
            self.queue.update(new)

    def _pod_deleted(self, pod: Object) -> None:
        if assigned_node(pod):
            self.cache.remove_pod(pod)
            self.queue.move_on(ClusterEvent("Pod", ActionType.DELETE))
        else:
            self.queue.delete(pod)

    def _node_added(self, node: Object) -> None:
        self.cache.add_node(node)
        self.queue.move_on(ClusterEvent("Node", ActionType.ADD))

    def _node_updated(self, old: Object, new: Object) -> None:
        self.cache.update_node(new)
        if any(field(old) != field(new) for field in _NODE_SCHEDULING_FIELDS):
            self.queue.move_on(ClusterEvent("Node", ActionType.UPDATE))


def _scheduler_name(pod: Object) -> str:
    return (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"


def _terminal(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _pod_changed(old: Object, new: Object) -> bool:
    """A change worth retrying for: anything but status and bookkeeping metadata."""
    return old.get("spec") != new.get("spec") or (old.get("metadata") or {}).get("labels") != (
        new.get("metadata") or {}
    ).get("labels")


def _describe(pod: Object) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
