"""The pod garbage collector (upstream's ``podgc``): pods nothing else will ever remove.

Every 20 s (upstream's gcCheckPeriod, on ``context.clock``) it deletes, with
no grace period:

- terminated pods (phase neither Pending, Running nor Unknown) beyond
  ``--terminated-pod-gc-threshold`` (0 turns this off), evicted ones first,
  then oldest first;
- terminating pods on a node that is not ready and tainted
  ``node.kubernetes.io/out-of-service``;
- orphaned pods, bound to a node that does not exist: a node missing from
  the cache is first quarantined for 40 s, then looked up on the server, so
  a node the cache has not caught up with is not taken for deleted; these
  pods get the ``DisruptionTarget`` condition ``DeletionByPodGC``;
- terminating pods never scheduled to a node.

A pod not yet Succeeded or Failed is set Failed before it is deleted, as
1.31 does: a pod whose kubelet is gone would otherwise stay Running. Each
deletion and each failed one is counted by namespace and reason in
upstream's ``pod_gc_collector_force_delete_pod*_total`` metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from pynetes.api.conditions import set_condition
from pynetes.api.meta import name_of, namespace_of
from pynetes.client import errors
from pynetes.client.cache.lister import Lister
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.nodelifecycle.health import ready_condition
from pynetes.controllermanager.controllers.nodelifecycle.pods import PODS
from pynetes.controllermanager.controllers.nodelifecycle.taints import NODES, node_taints
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.controllermanager.timing import every

log = logging.getLogger(__name__)

Object = dict[str, Any]

#: Upstream's gcCheckPeriod and quarantineTime.
GC_CHECK_PERIOD = 20.0
QUARANTINE = 40.0
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
#: The DisruptionTarget condition's reason and message for a pod whose node is gone.
ORPHAN_DISRUPTION = ("DeletionByPodGC", "PodGC: node no longer exists")
_RUNNING_PHASES = frozenset({"Pending", "Running", "Unknown"})
#: The ``reason`` label of the metrics: why a pod was deleted.
TERMINATED, OUT_OF_SERVICE, ORPHANED, UNSCHEDULED = (
    "terminated", "out-of-service", "orphaned", "unscheduled",
)  # fmt: skip


class PodGCMetrics:
    """Upstream's two counters of forced deletions, labelled by namespace and reason."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["namespace", "reason"]
        self.deletions = Counter(
            "pod_gc_collector_force_delete_pods_total",
            "Number of pods that are being forcefully deleted since the Pod GC Controller started.",
            labels,
            registry=registry,
        )
        self.errors = Counter(
            "pod_gc_collector_force_delete_pod_errors_total",
            "Number of errors encountered when forcefully deleting the pods since the Pod GC "
            "Controller started.",
            labels,
            registry=registry,
        )


def _phase(pod: Object) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _node_name(pod: Object) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def _terminating(pod: Object) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_terminated(pod: Object) -> bool:
    """Upstream's isPodTerminated: any phase but Pending, Running and Unknown."""
    return _phase(pod) not in _RUNNING_PHASES


def deletion_order(pod: Object) -> tuple[bool, str, str]:
    """Evicted pods first, then by creation time, then by name (upstream's order)."""
    status = pod.get("status") or {}
    evicted = status.get("phase") == "Failed" and status.get("reason") == "Evicted"
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (not evicted, created, name_of(pod))


def _out_of_service(node: Object | None) -> bool:
    """A node that is not ready and tainted out-of-service (its pods will never stop)."""
    if node is None:
        return False
    ready = ready_condition(node)
    not_ready = ready is None or ready.get("status") != "True"
    return not_ready and any(
        taint.get("key") == OUT_OF_SERVICE_TAINT for taint in node_taints(node)
    )


class PodGCController:
    """Deletes terminated, orphaned and unscheduled terminating pods each period."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._clock = context.clock
        self._wall_clock = context.wall_clock
        self._threshold: int = context.options.terminated_pod_gc_threshold
        self._metrics = PodGCMetrics(context.registry)
        self._pods = Lister(context.informers.informer(PODS).store)
        self._nodes = Lister(context.informers.informer(NODES).store)
        #: Node names pods are bound to but the cache lacks, and since when (``clock``).
        self._missing_since: dict[str, float] = {}

    async def run(self) -> None:
        await every(self._clock, GC_CHECK_PERIOD, self._collect)

    async def _collect(self) -> None:
        pods = self._pods.list()
        if self._threshold > 0:
            await self._collect_terminated(pods)
        await self._collect_out_of_service(pods)
        await self._collect_orphaned(pods)
        unscheduled = [pod for pod in pods if _terminating(pod) and not _node_name(pod)]
        await self._delete_all(unscheduled, UNSCHEDULED)

    async def _collect_terminated(self, pods: list[Object]) -> None:
        terminated = [pod for pod in pods if is_terminated(pod)]
        excess = len(terminated) - self._threshold
        if excess > 0:
            log.info("garbage collecting %d terminated pods", excess)
            await self._delete_all(sorted(terminated, key=deletion_order)[:excess], TERMINATED)

    async def _collect_out_of_service(self, pods: list[Object]) -> None:
        doomed = [
            pod
            for pod in pods
            if _terminating(pod) and _out_of_service(self._nodes.get(_node_name(pod)))
        ]
        await self._delete_all(sorted(doomed, key=deletion_order), OUT_OF_SERVICE)

    async def _collect_orphaned(self, pods: list[Object]) -> None:
        now = self._clock()
        for pod in pods:
            node = _node_name(pod)
            if node and self._nodes.get(node) is None:
                self._missing_since.setdefault(node, now)
        deleted = await self._deleted_nodes(now)
        orphans = [pod for pod in pods if _node_name(pod) in deleted]
        await self._delete_all(orphans, ORPHANED, ORPHAN_DISRUPTION)

    async def _deleted_nodes(self, now: float) -> set[str]:
        """The quarantined nodes whose 40 s are up and that the server does not have either.

        Each node whose time is up leaves quarantine; one still missing from
        the cache next time starts a new one, as upstream re-queues it.
        """
        deleted = set()
        for node, since in list(self._missing_since.items()):
            if now - since < QUARANTINE:
                continue
            del self._missing_since[node]
            if self._nodes.get(node) is not None:
                continue
            try:
                await self._client.get(NODES, node)
            except errors.NotFound:
                deleted.add(node)
            except (errors.ApiError, errors.TransportError) as error:
                log.warning("could not look up node %s: %s", node, error)
        return deleted

    async def _delete_all(
        self, pods: Iterable[Object], reason: str, disruption: tuple[str, str] | None = None
    ) -> None:
        await asyncio.gather(*(self._fail_and_delete(pod, reason, disruption) for pod in pods))

    async def _fail_and_delete(
        self, pod: Object, reason: str, disruption: tuple[str, str] | None
    ) -> None:
        """Set the pod Failed unless finished (with a DisruptionTarget condition of
        ``disruption``'s reason and message, if given), then delete it with no grace
        period. Failures are logged and counted: the next period tries again."""
        namespace, name = namespace_of(pod), name_of(pod)
        log.info("PodGC is force deleting Pod %s/%s (%s)", namespace, name, reason)
        self._metrics.deletions.labels(namespace, reason).inc()
        try:
            if _phase(pod) not in ("Succeeded", "Failed"):
                await self._client.patch(
                    PODS,
                    name,
                    {"status": self._failed_status(disruption)},
                    patch_type="strategic",
                    namespace=namespace,
                    subresource="status",
                )
            await self._client.delete(PODS, name, namespace=namespace, grace_period_seconds=0)
        except errors.NotFound:
            pass
        except (errors.ApiError, errors.TransportError) as error:
            self._metrics.errors.labels(namespace, reason).inc()
            log.warning("could not delete pod %s/%s: %s", namespace, name, error)

    def _failed_status(self, disruption: tuple[str, str] | None) -> Object:
        """The status patch: Failed, and the DisruptionTarget condition (merged by type)."""
        status: Object = {"phase": "Failed"}
        if disruption is not None:
            now = datetime.fromtimestamp(self._wall_clock(), UTC)
            set_condition(status, "DisruptionTarget", True, *disruption, now)
        return status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=12500,
        help="terminated pods kept before the oldest are deleted (0 keeps them all)",
    )


CONTROLLER = ControllerDescriptor(name="podgc", build=PodGCController, add_arguments=add_arguments)
