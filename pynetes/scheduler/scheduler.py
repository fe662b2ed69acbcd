"""The scheduler: informers feed the cache and the queue; one loop pops a pod,
decides, assumes it and hands the binding to a task of its own (upstream's
scheduleOne with its asynchronous binding cycle).

It takes only pods whose ``spec.schedulerName`` names one of its profiles and
that have no node. A decision is recorded as upstream does: a ``Scheduled``
event on success; on failure a ``FailedScheduling`` event with the aggregated
reasons and the pod's ``PodScheduled`` condition set False with reason
``Unschedulable``, and the pod requeued.

Every attempt ends in :meth:`Scheduler._conclude`: one metric sample, one log
line (INFO for a pod that does not fit, ERROR for an error, DEBUG for a bound
pod, as upstream's klog levels 2 and 0 map onto Python's) and one entry in
:attr:`Scheduler.decisions` for ``explain``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
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
from pynetes.scheduler.decisions import DecisionLog
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import ActionType, ClusterEvent, Handle
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo
from pynetes.scheduler.framework.registry import Registry
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.metrics import ERROR, SCHEDULED, UNSCHEDULABLE, SchedulerMetrics
from pynetes.scheduler.nominator import Nominator, nominated_node_name
from pynetes.scheduler.plugins.registry import in_tree_registry
from pynetes.scheduler.queue import CallLater, SchedulingQueue

log = logging.getLogger(__name__)

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")

Object = dict[str, Any]

#: Each result's log level and message (upstream's wording); a bound pod's
#: line is formatted only when DEBUG is on, as it comes once per pod.
_LOG_LEVELS = {SCHEDULED: logging.DEBUG, UNSCHEDULABLE: logging.INFO, ERROR: logging.ERROR}
_LOG_MESSAGES = {
    SCHEDULED: "Successfully bound pod to node",
    UNSCHEDULABLE: "Unable to schedule pod; no fit; waiting",
    ERROR: "Error scheduling pod; retrying",
}

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
    drive the queue's timers, the decision log's ages and the tie-breaks.
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
        self._informers = SharedInformerFactory(client)
        self.nominator = Nominator()
        self.recorders = {
            profile.scheduler_name: EventRecorder(client, profile.scheduler_name)
            for profile in config.profiles
        }
        registry = registry or in_tree_registry()
        self.frameworks = {
            name: Framework(
                profile,
                registry,
                Handle(
                    client,
                    lambda: self.snapshot,
                    self._informers,
                    nominator=self.nominator,
                    recorder=self.recorders[name],
                ),
            )
            for profile in config.profiles
            if (name := profile.scheduler_name)
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
        self.decisions = DecisionLog(clock=clock)
        self._clock = clock
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
            await self._on_failure(framework, state, info, outcome, cycle, started)
            return True
        assumed = self.cache.assume_pod(pod, outcome.node)
        self.nominator.delete(pod)
        status = framework.run_reserve(state, assumed, outcome.node)
        if not status.is_success:
            self.cache.forget_pod(assumed)
            await self._fail(framework, info, outcome, status.message, cycle, started, error=True)
            return True
        task = asyncio.create_task(
            self._binding_cycle(framework, state, info, assumed, outcome, cycle, started)
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
        outcome: Outcome,
        cycle: int,
        started: float,
    ) -> None:
        node = outcome.node or ""
        try:
            status = await self._timed_point(
                "PreBind", framework, framework.run_pre_bind(state, assumed, node)
            )
            if status.is_success:
                status = await self._timed_point(
                    "Bind", framework, framework.run_bind(state, assumed, node)
                )
        except Exception as error:  # a timeout or a lost connection: the pod goes back
            log.warning("binding %s to %s failed: %r", _describe(info.pod), node, error)
            status = st.error(f"binding failed: {error!r}")
        if not status.is_success:
            framework.run_unreserve(state, assumed, node)
            self.cache.forget_pod(assumed)
            self.queue.move_on(ClusterEvent("Pod", ActionType.DELETE))
            await self._fail(framework, info, outcome, status.message, cycle, started, error=True)
            return
        self.queue.done(info.key)
        self._conclude(SCHEDULED, framework, info.pod, outcome, "", started)
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
        state: CycleState,
        info: QueuedPodInfo,
        outcome: Outcome,
        cycle: int,
        started: float,
    ) -> None:
        """A pod no node fits: the post-filters (preemption) may make room on a
        node it is then nominated to; their verdict ends the FailedScheduling
        message as upstream's (" preemption: ...")."""
        if outcome.error:
            await self._fail(framework, info, outcome, outcome.error, cycle, started, error=True)
            return
        info.unschedulable_plugins = outcome.diagnosis.unschedulable_plugins
        message = fit_error_message(len(self.snapshot), outcome.diagnosis)
        nominated, status = await framework.run_post_filter(
            state, info.pod, _node_statuses(outcome.diagnosis, self.snapshot)
        )
        if status.code == st.Code.ERROR:
            log.error("post-filter for %s failed: %s", _describe(info.pod), status.message)
        elif status.message:
            message = f"{message} {status.message}."
        if nominated:
            self.nominator.add(info.pod, nominated)
        elif nominated is not None:
            self.nominator.delete(info.pod)
        await self._fail(
            framework, info, outcome, message, cycle, started, error=False, nominated=nominated
        )

    async def _fail(
        self,
        framework: Framework,
        info: QueuedPodInfo,
        outcome: Outcome,
        message: str,
        cycle: int,
        started: float,
        *,
        error: bool,
        nominated: str | None = None,
    ) -> None:
        """Record the failure (metric, log, decision, event, condition) and requeue the pod."""
        result = ERROR if error else UNSCHEDULABLE
        self._conclude(result, framework, info.pod, outcome, message, started)
        self.recorders[framework.profile_name].event(info.pod, WARNING, "FailedScheduling", message)
        self.queue.add_unschedulable(info, cycle, error=error)
        await self._set_unschedulable_condition(info.pod, message, error=error, nominated=nominated)

    async def _set_unschedulable_condition(
        self, pod: Object, message: str, *, error: bool, nominated: str | None = None
    ) -> None:
        """PodScheduled=False on the pod's status, as upstream's updatePod, and
        ``nominatedNodeName`` set to ``nominated`` ("" clears it; None leaves it).

        Reason ``Unschedulable`` for a pod no node fits, ``SchedulerError``
        otherwise. Skipped when the status already says so.
        """
        reason = "SchedulerError" if error else "Unschedulable"
        status: Object = pod.get("status") or {}
        renominate = nominated is not None and nominated != nominated_node_name(pod)
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == reason
                and condition.get("message") == message
                and not renominate
            ):
                return
        patch: Object = {
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
        if renominate:
            patch["status"]["nominatedNodeName"] = nominated or None
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

    def _conclude(
        self,
        result: str,
        framework: Framework,
        pod: Object,
        outcome: Outcome,
        message: str,
        started: float,
    ) -> None:
        """The end of one attempt: its metric sample, its log line, its decision record.

        The attempt's duration runs from the pop to here: scheduling plus,
        for a bound pod, binding (upstream's scheduling_attempt_duration).
        """
        seconds = self._clock() - started
        profile = framework.profile_name
        self.metrics.observe(result, profile, seconds)
        self.decisions.record(pod, profile, outcome, len(self.snapshot), message, seconds)
        _log_attempt(result, pod, profile, outcome, message, seconds)

    # -- informer handlers ---------------------------------------------------

    def _responsible(self, pod: Object) -> bool:
        return _scheduler_name(pod) in self.frameworks

    def _pod_added(self, pod: Object) -> None:
        if assigned_node(pod):
            self.cache.add_pod(pod)
            self.queue.move_on(ClusterEvent("Pod", ActionType.ADD))
        elif self._responsible(pod) and not _terminal(pod):
            self.nominator.add(pod)
            self.queue.add(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if assigned_node(new):
            if not assigned_node(old):
                self.queue.delete(new)
                self.nominator.delete(new)
            self.cache.update_pod(new)
        elif self._responsible(new) and not _terminal(new):
            self.nominator.update(old, new)
            if _pod_changed(old, new):
                self.queue.update(new)

    def _pod_deleted(self, pod: Object) -> None:
        self.nominator.delete(pod)
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


def _node_statuses(diagnosis: Diagnosis, snapshot: Snapshot) -> Mapping[str, st.Status]:
    """Each node's filter verdict for the post-filters. A PreFilter rejection
    counts as every node's, and as unresolvable: the cycle's state lacks what
    the Filters would need to judge a what-if."""
    rejection = diagnosis.pre_filter
    if rejection is None:
        return diagnosis.statuses
    verdict = st.unresolvable(*rejection.reasons).with_plugin(rejection.plugin)
    return {node.name: verdict for node in snapshot.list()}


def _scheduler_name(pod: Object) -> str:
    return (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"


def _terminal(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _pod_changed(old: Object, new: Object) -> bool:
    """A change worth retrying for: anything but status and bookkeeping metadata."""
    return old.get("spec") != new.get("spec") or (old.get("metadata") or {}).get("labels") != (
        new.get("metadata") or {}
    ).get("labels")


def _log_attempt(
    result: str, pod: Object, profile: str, outcome: Outcome, message: str, seconds: float
) -> None:
    """The attempt's one log line: the pod, its node or the failure, the duration."""
    level = _LOG_LEVELS[result]
    if not log.isEnabledFor(level):
        return
    summary = {"node": outcome.node} if result == SCHEDULED else {"err": message}
    fields = _fields(
        pod=_describe(pod),
        **summary,
        profile=profile,
        evaluatedNodes=outcome.diagnosis.evaluated,
        feasibleNodes=len(outcome.scores) or (1 if outcome.node else 0),
        duration=f"{seconds * 1000:.3f}ms",
    )
    log.log(level, "%s %s", _LOG_MESSAGES[result], fields)


def _fields(**fields: object) -> str:
    """klog's structured key="value" pairs, quoted so a message with spaces stays one value."""
    return " ".join(f"{key}={json.dumps(value)}" for key, value in fields.items())


def _describe(pod: Object) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
