"""The node lifecycle controller: node health, condition taints, and taints that evict.

Three loops, as upstream's:

- every ``--node-monitor-period`` it checks each node's health
  (:mod:`.health`): a node silent for its grace period gets its conditions
  set Unknown, a node whose Ready condition turned from True gets a
  ``NodeNotReady`` Event and its pods marked not ready, and each node is
  queued for the NoExecute taint matching its Ready condition (or has both
  lifted once Ready). It then works out each zone's state (:mod:`.zones`);
- every 100 ms the zones' tainters let queued nodes through at their rate
  and write the not-ready or unreachable NoExecute taint;
- on every Node change it reconciles the NoSchedule taints its conditions
  and ``spec.unschedulable`` call for (TaintNodesByCondition) and copies
  the ``kubernetes.io/os`` and ``arch`` labels to their beta names; a pod
  newly bound to a node that is not ready is marked not ready.

Evicting the pods of tainted nodes is the taint eviction controller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.events import NORMAL
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.nodelifecycle import pods as node_pods
from pynetes.controllermanager.controllers.nodelifecycle.health import (
    HealthTracker,
    ready_condition,
    silenced_conditions,
)
from pynetes.controllermanager.controllers.nodelifecycle.taints import (
    NODES,
    NOT_READY_NO_EXECUTE,
    UNREACHABLE_NO_EXECUTE,
    difference,
    has_taint,
    owned_no_schedule_taints,
    stamped,
    swap_taints,
    wanted_no_schedule_taints,
)
from pynetes.controllermanager.controllers.nodelifecycle.zones import (
    EvictionRates,
    ZoneMetrics,
    ZoneState,
    ZoneTainter,
    excluded_from_disruption,
    zone_key,
    zone_state,
)
from pynetes.controllermanager.timing import every

log = logging.getLogger(__name__)

Object = dict[str, Any]

LEASES = built_in("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"
#: Nodes whose health is updated at once in a pass (upstream's nodeUpdateWorkerSize).
NODE_UPDATE_WORKERS = 8
#: How often the zones' tainters run (upstream's NodeEvictionPeriod).
TAINTING_PERIOD = 0.1
#: The component its Events come from, as upstream's.
COMPONENT = "node-controller"
#: (label, its beta twin the controller keeps equal) as upstream's labelReconcileInfo.
BETA_LABELS = (
    ("kubernetes.io/os", "beta.kubernetes.io/os"),
    ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
)
#: (the NoExecute taint a Ready status calls for, the one it rules out).
_NO_EXECUTE_FOR = {
    "False": (NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE),
    "Unknown": (UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE),
}


def _ready_status(node: Object) -> str | None:
    ready = ready_condition(node)
    return None if ready is None else ready.get("status")


def beta_labels_to_set(node: Object) -> dict[str, str]:
    """The beta labels that are missing or differ from the labels they mirror."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    return {
        beta: labels[label]
        for label, beta in BETA_LABELS
        if label in labels and labels.get(beta) != labels[label]
    }


def _reference(node: Object) -> Object:
    """A reference to the Node, made without its kind (a node being deleted may lack it)."""
    reference = {"kind": "Node", "apiVersion": "v1", "name": node["metadata"]["name"]}
    if node["metadata"].get("uid"):
        reference["uid"] = node["metadata"]["uid"]
    return reference


class NodeLifecycleController:
    """Watches Nodes, their Leases and Pods; writes conditions, taints and pod readiness."""

    def __init__(self, context: ControllerContext) -> None:
        options = context.options
        self._client = context.client
        self._clock = context.clock
        self._wall_clock = context.wall_clock
        self._recorder = context.recorder(COMPONENT)
        self._monitor_period: float = options.node_monitor_period
        self._unhealthy_threshold: float = options.unhealthy_zone_threshold
        self._rates = EvictionRates(
            options.node_eviction_rate,
            options.secondary_node_eviction_rate,
            options.large_cluster_size_threshold,
        )
        self._metrics = ZoneMetrics(context.registry)
        self._health = HealthTracker(
            options.node_monitor_grace_period, options.node_startup_grace_period
        )
        nodes = context.informers.informer(NODES)
        self._nodes = Lister(nodes.store)
        self._leases = Lister(context.informers.informer(LEASES).store)
        pods = context.informers.informer(
            node_pods.PODS, indexers={node_pods.BY_NODE: node_pods.node_name_of}
        )
        self._pods = pods.store
        self._node_work = Controller(
            "node_lifecycle_controller",
            self._sync_node,
            queue=context.queue("node_lifecycle_controller"),
        )
        self._pod_work = Controller(
            "node_lifecycle_controller_pods",
            self._sync_pod,
            queue=context.queue("node_lifecycle_controller_pods"),
        )
        node_queue, pod_queue = self._node_work.queue, self._pod_work.queue
        nodes.add_event_handler(
            EventHandler(
                on_add=lambda node: node_queue.add(node["metadata"]["name"]),
                on_update=lambda _old, node: node_queue.add(node["metadata"]["name"]),
            )
        )

        def pod_bound(old: Object | None, new: Object) -> None:
            if node_pods.node_name_of(new) and (
                old is None or node_pods.node_name_of(old) != node_pods.node_name_of(new)
            ):
                pod_queue.add(object_key(new))

        pods.add_event_handler(
            EventHandler(on_add=lambda pod: pod_bound(None, pod), on_update=pod_bound)
        )
        self._known: dict[str, Object] = {}
        self._tainters: dict[str, ZoneTainter] = {}
        self._zone_states: dict[str, ZoneState] = {}
        #: Nodes whose pods could not all be marked not ready: tried again next pass.
        self._pods_to_retry: set[str] = set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as loops:
            loops.create_task(self._node_work.run())
            loops.create_task(self._pod_work.run())
            loops.create_task(every(self._clock, TAINTING_PERIOD, self._taint_waiting_nodes))
            loops.create_task(every(self._clock, self._monitor_period, self._monitor))

    # -- node and pod changes ----------------------------------------------------

    async def _sync_node(self, name: str) -> Result:
        """The NoSchedule taints and beta labels the node calls for (doNodeProcessingPass)."""
        node = self._nodes.get(name)
        if node is None:
            return Result()
        to_add, to_remove = difference(
            wanted_no_schedule_taints(node), owned_no_schedule_taints(node)
        )
        if to_add or to_remove:
            written = await swap_taints(
                self._client, node, stamped(to_add, self._wall_clock()), to_remove
            )
            if written is None:
                return Result()
            node = written
        labels = beta_labels_to_set(node)
        if labels:
            with contextlib.suppress(errors.NotFound):
                await self._client.patch(NODES, name, {"metadata": {"labels": labels}})
        return Result()

    async def _sync_pod(self, key: str) -> Result:
        """A pod newly bound to a node that is not ready is marked not ready at once."""
        pod = self._pods.get(key)
        if pod is None:
            return Result()
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = self._nodes.get(node_name)
        if node is None or node_name not in self._known or _ready_status(node) in (None, "True"):
            return Result()
        now = self._wall_clock()
        await node_pods.mark_not_ready(self._client, self._recorder, [pod], node_name, now)
        return Result()

    # -- NoExecute taints --------------------------------------------------------

    async def _taint_waiting_nodes(self) -> None:
        for tainter in list(self._tainters.values()):
            await tainter.let_through(self._taint_no_execute)

    async def _taint_no_execute(self, name: str) -> bool:
        """Give the node the NoExecute taint its Ready status calls for; False to retry."""
        node = self._nodes.get(name)
        if node is None:
            return True
        status = _ready_status(node)
        if status is None:
            return False  # no Ready condition yet: wait for one
        if status not in _NO_EXECUTE_FOR:
            return True  # ready again: nothing to taint
        wanted, opposite = _NO_EXECUTE_FOR[status]
        try:
            await swap_taints(self._client, node, stamped([wanted], self._wall_clock()), [opposite])
        except (errors.ApiError, errors.TransportError) as error:
            log.warning("could not taint node %s: %s", name, error)
            return False
        self._metrics.evictions.labels(zone_key(node)).inc()
        return True

    def _queue_for_tainting(self, node: Object, status: str) -> None:
        """Queue the node for the taint ``status`` calls for; forget it if it lost that taint."""
        tainter = self._tainters[zone_key(node)]
        wanted, _ = _NO_EXECUTE_FOR[status]
        if not has_taint(node, wanted):
            tainter.remove(node["metadata"]["name"])
        tainter.add(node["metadata"]["name"])

    async def _mark_reachable(self, node: Object) -> None:
        """Lift both NoExecute taints and forget the node in its zone's tainter."""
        await swap_taints(self._client, node, [], [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE])
        tainter = self._tainters.get(zone_key(node))
        if tainter is not None:
            tainter.remove(node["metadata"]["name"])

    async def _taint_for_ready_status(self, node: Object, observed: str) -> None:
        """Upstream's processTaintBaseEviction, for the Ready status seen this pass."""
        if observed == "True":
            await self._mark_reachable(node)
            return
        if observed not in _NO_EXECUTE_FOR:
            return
        wanted, opposite = _NO_EXECUTE_FOR[observed]
        if has_taint(node, opposite):  # the node went from one to the other: swap at once
            await swap_taints(self._client, node, stamped([wanted], self._wall_clock()), [opposite])
        else:
            self._queue_for_tainting(node, observed)

    # -- health ------------------------------------------------------------------

    async def _monitor(self) -> None:
        """One pass over every node, a few at a time (upstream's monitorNodeHealth)."""
        nodes = self._nodes.list()
        await self._notice_added_and_removed(nodes)
        zones: dict[str, list[str | None]] = {}
        unchecked = iter(nodes)

        async def check_nodes() -> None:
            for node in unchecked:
                try:
                    await self._check_node(node, zones)
                except (errors.ApiError, errors.TransportError) as error:
                    name = node["metadata"]["name"]
                    log.warning("could not update the health of node %s: %s", name, error)

        await asyncio.gather(*(check_nodes() for _ in range(NODE_UPDATE_WORKERS)))
        await self._handle_disruption(zones, nodes)

    async def _notice_added_and_removed(self, nodes: list[Object]) -> None:
        names = {node["metadata"]["name"] for node in nodes}
        for name in [name for name in self._known if name not in names]:
            gone = self._known.pop(name)
            self._health.forget(name)
            self._pods_to_retry.discard(name)
            self._node_event(gone, "RemovingNode", f"Removing Node {name} from Controller")
        for node in nodes:
            name = node["metadata"]["name"]
            self._add_zone(node)
            if name in self._known:
                continue
            self._known[name] = node
            self._node_event(node, "RegisteredNode", f"Registered Node {name} in Controller")
            try:
                await self._mark_reachable(node)
            except (errors.ApiError, errors.TransportError) as error:
                log.warning("could not lift the NoExecute taints of node %s: %s", name, error)

    def _add_zone(self, node: Object) -> None:
        zone = zone_key(node)
        if zone not in self._tainters:
            self._tainters[zone] = ZoneTainter(self._rates.normal, self._clock)
            self._metrics.evictions.labels(zone).inc(0)
        self._zone_states.setdefault(zone, ZoneState.INITIAL)

    def _node_event(self, node: Object, reason: str, event: str) -> None:
        """An Event about a node, worded as upstream's RecordNodeEvent."""
        name = node["metadata"]["name"]
        self._recorder.event(_reference(node), NORMAL, reason, f"Node {name} event: {event}")

    async def _check_node(self, node: Object, zones: dict[str, list[str | None]]) -> None:
        """Update one node's health, taints and pods; note its Ready status for its zone."""
        name = node["metadata"]["name"]
        observed = _ready_status(node) or "Unknown"
        now = self._wall_clock()
        lease = self._leases.get(name, NODE_LEASE_NAMESPACE)
        if self._health.silent(node, lease, now):
            node = await self._silence(node, now)
        current = _ready_status(node)
        if not excluded_from_disruption(node):
            zones.setdefault(zone_key(node), []).append(current)
        if current is None:
            return
        await self._taint_for_ready_status(node, observed)
        turned_not_ready = current != "True" and observed == "True"
        if turned_not_ready:
            status_change = f"Node {name} status is now: NodeNotReady"
            self._recorder.event(_reference(node), NORMAL, "NodeNotReady", status_change)
        if turned_not_ready or (name in self._pods_to_retry and observed != "True"):
            self._pods_to_retry.add(name)
            on_node = self._pods.by_index(node_pods.BY_NODE, name)
            await node_pods.mark_not_ready(self._client, self._recorder, on_node, name, now)
        self._pods_to_retry.discard(name)

    async def _silence(self, node: Object, now: float) -> Object:
        """Set the silent node's conditions Unknown, if that changes its Ready condition."""
        conditions = silenced_conditions(node, now)
        before = ready_condition(node)
        after = next(found for found in conditions if found["type"] == "Ready")
        if before == after:
            return node
        silenced = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
        written = await self._client.replace(NODES, silenced, subresource="status")
        self._health.written(written)
        return written

    # -- zones -------------------------------------------------------------------

    async def _handle_disruption(
        self, zones: dict[str, list[str | None]], nodes: list[Object]
    ) -> None:
        """Follow each zone's state and set its tainting rate (upstream's handleDisruption)."""
        new_states = {}
        for zone, statuses in zones.items():
            new_states[zone] = zone_state(statuses, self._unhealthy_threshold)
            self._metrics.observe(zone, statuses)
        for zone in list(self._zone_states):
            if zone not in zones:
                del self._zone_states[zone]
                self._metrics.forget(zone)
        all_now = all(state is ZoneState.FULL_DISRUPTION for state in new_states.values())
        all_before = all(state is ZoneState.FULL_DISRUPTION for state in self._zone_states.values())
        if all_now and all_before:
            return
        if all_now:
            log.info("Controller detected that all Nodes are not-Ready. Entering disruption mode")
            for node in nodes:
                try:
                    await self._mark_reachable(node)
                except (errors.ApiError, errors.TransportError) as error:
                    name = node["metadata"]["name"]
                    log.warning("could not lift the taints of node %s: %s", name, error)
            for zone in self._zone_states:
                self._tainters[zone].set_rate(0.0)
                self._zone_states[zone] = ZoneState.FULL_DISRUPTION
            return
        if all_before:
            log.info("Controller detected that some Nodes are Ready. Exiting disruption mode")
            self._health.heard_all_at(self._wall_clock())
        for zone, state in self._zone_states.items():
            new_state = new_states.get(zone, state)
            if all_before or new_state is not state:
                self._tainters[zone].set_rate(self._rates.rate(new_state, len(zones[zone])))
                self._zone_states[zone] = new_state
