"""The taint eviction controller: pods leave nodes tainted NoExecute unless they tolerate it.

As upstream's ``taint-eviction-controller`` (split from the node lifecycle
controller in Kubernetes 1.29): a pod bound to a node with NoExecute
taints is deleted at once if some taint is not tolerated; if every taint
is tolerated, after the least ``tolerationSeconds`` of the tolerations
used (counted, as upstream, from when this controller first saw the pod
tolerating them); never if none of those tolerations has a limit. Before
deleting it records a ``TaintManagerEviction`` Event and adds the
``DisruptionTarget`` condition to the pod; a pending deletion cancelled
because the taint went away (or the pod now tolerates it for ever) is
recorded too. Deadlines are on ``context.wall_clock``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from pynetes.api.conditions import set_condition
from pynetes.api.meta import name_of, namespace_of
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.events import NORMAL
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.nodelifecycle.pods import BY_NODE, PODS, node_name_of
from pynetes.controllermanager.controllers.nodelifecycle.taints import NODES, node_taints
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.controllermanager.timing import sleep_until
from pynetes.scheduler.plugins.helpers.taints import pod_tolerations, tolerates

log = logging.getLogger(__name__)

Object = dict[str, Any]

NAME = "taint-eviction-controller"
EVICTION_REASON = "TaintManagerEviction"
#: The DisruptionTarget condition's reason and message as this controller sets them.
DISRUPTION_REASON = "DeletionByTaintManager"
DISRUPTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"


def no_execute_taints(node: Object | None) -> list[Object]:
    return [taint for taint in node_taints(node or {}) if taint.get("effect") == "NoExecute"]


def toleration_time(taints: Sequence[Object], tolerations: Sequence[Object]) -> float | None:
    """Seconds the pod may stay on a node with ``taints``: 0 now, ``inf`` for ever.

    None when there are no taints. As upstream, each taint is tolerated by
    the first toleration that matches it; the least ``tolerationSeconds``
    among those counts (a zero or negative one means at once).
    """
    if not taints:
        return None
    least = math.inf
    for taint in taints:
        used = next((t for t in tolerations if tolerates(t, taint)), None)
        if used is None:
            return 0.0
        seconds = used.get("tolerationSeconds")
        if seconds is not None:
            least = min(least, max(float(seconds), 0.0))
    return least


@dataclass
class _Scheduled:
    """A pod's pending deletion: since when it tolerates its node's taints, and its timer."""

    since: float
    due: float
    timer: asyncio.Task[None]


class TaintEvictionController:
    """Deletes the pods that do not tolerate their node's NoExecute taints (for long enough)."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._wall_clock = context.wall_clock
        self._recorder = context.recorder(NAME)
        self._deletions = Counter(
            "taint_eviction_controller_pod_deletions_total",
            "Total number of Pods deleted by TaintEvictionController since its start.",
            registry=context.registry,
        )
        nodes = context.informers.informer(NODES)
        pods = context.informers.informer(PODS, indexers={BY_NODE: node_name_of})
        self._nodes = Lister(nodes.store)
        self._pods = pods.store
        self._controller = Controller(
            NAME, self._sync, workers=8, queue=context.queue("noexec_taint_pod")
        )
        self._scheduled: dict[str, _Scheduled] = {}
        #: Pods deleted for their node's taints: not deleted again until the taints change.
        self._evicted: set[str] = set()
        queue = self._controller.queue

        def pod_changed(old: Object | None, new: Object) -> None:
            unchanged = old is not None and (
                node_name_of(old) == node_name_of(new)
                and pod_tolerations(old) == pod_tolerations(new)
            )
            if not unchanged:
                queue.add(object_key(new))

        def node_changed(old: Object | None, new: Object) -> None:
            if old is None or no_execute_taints(old) != no_execute_taints(new):
                for pod in self._pods.by_index(BY_NODE, name_of(new)):
                    queue.add(object_key(pod))

        pods.add_event_handler(
            EventHandler(
                on_add=lambda pod: pod_changed(None, pod),
                on_update=pod_changed,
                on_delete=lambda pod: queue.add(object_key(pod)),
            )
        )
        nodes.add_event_handler(
            EventHandler(
                on_add=lambda node: node_changed(None, node),
                on_update=node_changed,
                on_delete=lambda node: node_changed(None, node),
            )
        )

    async def run(self) -> None:
        try:
            await self._controller.run()
        finally:
            for key in list(self._scheduled):
                self._unschedule(key)

    async def _sync(self, key: str) -> Result:
        pod = self._pods.get(key)
        node_name = None if pod is None else (pod.get("spec") or {}).get("nodeName")
        if pod is None or not node_name:
            self._cancel(key)
            return Result()
        taints = no_execute_taints(self._nodes.get(node_name))
        allowed = toleration_time(taints, pod_tolerations(pod))
        if allowed is None or allowed == math.inf:
            self._cancel(key)
            return Result()
        if key in self._evicted:
            return Result()
        now = self._wall_clock()
        scheduled = self._scheduled.get(key)
        since = now if scheduled is None or allowed == 0 else scheduled.since
        due = since + allowed
        if due > now:
            if scheduled is None or scheduled.due != due:
                self._unschedule(key)
                timer = asyncio.create_task(self._wake(key, due), name=f"evict {key} at {due}")
                self._scheduled[key] = _Scheduled(since, due, timer)
            return Result()
        await self._evict(pod)
        self._unschedule(key)
        self._evicted.add(key)
        return Result()

    async def _wake(self, key: str, due: float) -> None:
        await sleep_until(self._wall_clock, due)
        self._controller.queue.add(key)

    def _unschedule(self, key: str) -> bool:
        """Drop the pod's pending deletion; whether there was one."""
        scheduled = self._scheduled.pop(key, None)
        if scheduled is None:
            return False
        scheduled.timer.cancel()
        return True

    def _cancel(self, key: str) -> None:
        """The pod no longer needs deleting: forget it, saying so if a deletion was pending."""
        self._evicted.discard(key)
        if self._unschedule(key):
            namespace, name = split_key(key)
            self._recorder.event(
                _pod_reference(namespace, name),
                NORMAL,
                EVICTION_REASON,
                f"Cancelling deletion of Pod {key}",
            )

    async def _evict(self, pod: Object) -> None:
        """Record the eviction, mark the pod a disruption target, and delete it."""
        namespace, name = namespace_of(pod), name_of(pod)
        log.info("deleting pod %s/%s for its node's NoExecute taints", namespace, name)
        self._recorder.event(
            _pod_reference(namespace, name),
            NORMAL,
            EVICTION_REASON,
            f"Marking for deletion Pod {namespace}/{name}",
        )
        try:
            current = await self._client.get(PODS, name, namespace=namespace)
            await self._mark_disruption_target(current)
            await self._client.delete(
                PODS, name, namespace=namespace, preconditions={"uid": current["metadata"]["uid"]}
            )
        except errors.NotFound:
            return
        self._deletions.inc()

    async def _mark_disruption_target(self, pod: Object) -> None:
        """Add the DisruptionTarget condition, unless the pod has it as it would be added."""
        status = dict(pod.get("status") or {})
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        if set_condition(
            status, "DisruptionTarget", True, DISRUPTION_REASON, DISRUPTION_MESSAGE, now
        ):
            await self._client.replace(PODS, {**pod, "status": status}, subresource="status")


def _pod_reference(namespace: str, name: str) -> Object:
    """A reference to the pod by name, as upstream's Events of this controller carry."""
    return {"kind": "Pod", "apiVersion": "v1", "namespace": namespace, "name": name}


CONTROLLER = ControllerDescriptor(name=NAME, build=TaintEvictionController)
