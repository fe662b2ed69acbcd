"""Hollow nodes: many fake kubelets in one event loop, as KWOK runs them.

:class:`HollowNodes` registers a Node per :class:`~pynetes.hollow.spec.NodeSpec`
(status included), keeps each node's Lease in ``kube-node-lease`` renewed
every 10 s, re-reports each node's status every 5 minutes (the kubelet's
nodeStatusReportFrequency: the Lease is the heartbeat), and plays the
kubelet's part for pods bound to its nodes: a newly bound pod is reported
Running and Ready at once; a pod being deleted is deleted for good (grace
period 0), as a kubelet does once its containers stopped. Nothing runs.

It scales by sharing: one informer watches every bound pod and keeps those
bound to these nodes; renewals and status reports are spread evenly over
their period by :class:`~pynetes.hollow.periodic.Staggered` and carried out
by a fixed pool of workers. Every failed write (a conflict, the API server
down) is retried with backoff; nothing ends the runner but :meth:`stop`.
Started on nodes that already exist (a restart), it adopts them: their
Node is updated rather than created, their Lease renewed where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from pynetes.api.conditions import is_true
from pynetes.api.nodes import NODE_LEASE_NAMESPACE, lease_object, renewed_lease
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.client.workqueue import ItemExponentialFailureRateLimiter, RateLimitingQueue
from pynetes.controller import Controller, Result
from pynetes.hollow.periodic import Staggered
from pynetes.hollow.spec import NodeSpec
from pynetes.hollow.status import (
    PodAddresses,
    is_running,
    node_address,
    node_conditions,
    node_object,
    node_status,
    running_pod_status,
)

log = logging.getLogger(__name__)

NODES = built_in("", "v1", "nodes")
PODS = built_in("", "v1", "pods")
LEASES = built_in("coordination.k8s.io", "v1", "leases")
#: The kubelet renews its Lease every leaseDuration / 4.
LEASE_PERIOD = 10.0
#: nodeStatusReportFrequency: how often an unchanged node status is reported.
STATUS_PERIOD = 300.0
FIELD_MANAGER = "hollow-kubelet"

Object = dict[str, Any]
WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Node:
    """What the runner knows of one node it plays the kubelet of."""

    spec: NodeSpec
    address: str
    #: The Node's uid, once it is known to exist.
    uid: str | None = None
    #: Whether the Node was created or adopted (its status reported) by this runner.
    registered: bool = False
    #: The conditions as last reported (or found, for an adopted node).
    conditions: list[Object] = field(default_factory=list)
    #: The Lease as last read or written: renewals update it at its resourceVersion.
    lease: Object | None = None
    #: Whether its kubelet reports Ready (see HollowNodes.set_ready).
    ready: bool = True


class HollowNodes:
    """Fake kubelets for ``specs`` against the cluster ``client`` reaches.

    Use as ``async with`` (or :meth:`start` / :meth:`stop`); :meth:`ready`
    waits until every node is registered with a Lease and the pods are
    watched. ``client`` should not be rate limited below the write rate
    wanted (``len(specs) / lease_period`` renewals a second); concurrency
    is bounded by ``workers`` and ``pod_workers`` instead. ``wall_clock``
    stamps the objects' times. ``leases`` and ``statuses`` count the
    renewals and status reports done and failed.
    """

    def __init__(
        self,
        client: ApiClient,
        specs: Sequence[NodeSpec],
        *,
        lease_period: float = LEASE_PERIOD,
        status_period: float = STATUS_PERIOD,
        workers: int = 32,
        pod_workers: int = 32,
        wall_clock: WallClock = utc_now,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError("hollow node names must be unique")
        self._client = client
        self._now = wall_clock
        self._nodes = {
            spec.name: _Node(spec, node_address(index)) for index, spec in enumerate(specs)
        }
        self._addresses = PodAddresses()
        self._registered = 0
        self._all_registered = asyncio.Event()
        self.leases = Staggered("lease", self._heartbeat, lease_period, workers=workers)
        self.statuses = Staggered("node status", self._report, status_period, workers=workers)
        self.pods = Informer(client, PODS, field_selector="spec.nodeName!=")
        self.pods.add_event_handler(
            EventHandler(
                on_add=self._pod_changed,
                on_update=lambda _old, new: self._pod_changed(new),
                on_delete=self._pod_gone,
            )
        )
        limiter = ItemExponentialFailureRateLimiter(0.05, 30.0)
        self._pod_work = Controller(
            "hollow pods",
            self._sync_pod,
            workers=pod_workers,
            queue=RateLimitingQueue(limiter, name="hollow_pods"),
        )
        # A kubelet compares the status it would post with the Node the API holds and
        # posts again when they differ; here: a node of ours that someone else (the
        # node lifecycle controller) marked not Ready is reported again at once.
        self.node_watch = Informer(client, NODES)
        self.node_watch.add_event_handler(
            EventHandler(on_update=lambda _old, new: self._node_changed(new))
        )
        self._status_work = Controller(
            "hollow node status",
            self._correct_status,
            workers=workers,
            queue=RateLimitingQueue(ItemExponentialFailureRateLimiter(0.05, 30.0)),
        )
        self._task: asyncio.Task[None] | None = None
        #: Pods reported Running / deleted by this runner.
        self.pods_started = 0
        self.pods_deleted = 0

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def registered(self) -> int:
        """Nodes registered (created or adopted) with their Lease in place."""
        return self._registered

    async def start(self) -> None:
        """Start registering and running the nodes in the background (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hollow nodes")

    async def ready(self) -> None:
        """Wait until every node is registered and holds its Lease, and pods are watched."""
        await self._all_registered.wait()
        await self.pods.wait_for_sync()

    async def stop(self) -> None:
        """Stop everything; the nodes stay (their Leases expire as a stopped kubelet's do)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.pods.stop()
        await self.node_watch.stop()

    async def _run(self) -> None:
        await self._adopt_existing()
        for name in self._nodes:
            self.leases.add(name)
            self.statuses.add(name, now=False)
        self.pods.start()
        self.node_watch.start()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.leases.run())
            group.create_task(self.statuses.run())
            group.create_task(self._pod_work.run())
            group.create_task(self._status_work.run())

    # -- nodes and leases ------------------------------------------------------

    async def _adopt_existing(self) -> None:
        """Learn which nodes and Leases exist already, in two lists rather than a
        failed create per node. Best effort: if the lists fail, creates find out."""
        try:
            nodes = await self._client.list_all(NODES, page_size=1000)
            leases = await self._client.list_all(
                LEASES, namespace=NODE_LEASE_NAMESPACE, page_size=1000
            )
        except (errors.ApiError, errors.TransportError) as error:
            log.warning("could not list existing nodes (creating them instead): %s", error)
            return
        for existing in nodes["items"]:
            node = self._nodes.get(existing["metadata"]["name"])
            if node is not None:
                node.uid = existing["metadata"]["uid"]
                node.conditions = (existing.get("status") or {}).get("conditions") or []
        for lease in leases["items"]:
            node = self._nodes.get(lease["metadata"]["name"])
            if node is not None and node.uid is not None:
                node.lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", **lease}
        adopted = sum(1 for node in self._nodes.values() if node.uid is not None)
        if adopted:
            log.info("adopting %d existing nodes", adopted)

    async def _heartbeat(self, name: str) -> None:
        """Register the node if it is not yet, then renew its Lease."""
        node = self._nodes[name]
        first = not node.registered
        if first:
            await self._register(node)
        await self._renew_lease(node)
        if first:
            self._registered += 1
            if self._registered == len(self._nodes):
                self._all_registered.set()

    async def _register(self, node: _Node) -> None:
        """Create the Node with its status, or report the status of the one that exists."""
        if node.uid is None:
            try:
                created = await self._client.create(
                    NODES, node_object(node.spec, node.address, self._now())
                )
            except errors.AlreadyExists:
                existing = await self._client.get(NODES, node.spec.name)
                node.uid = existing["metadata"]["uid"]
                node.conditions = (existing.get("status") or {}).get("conditions") or []
            else:
                node.uid = created["metadata"]["uid"]
                node.conditions = created["status"]["conditions"]
                node.registered = True
                return
        status = node_status(node.spec, node.address, self._now(), node.conditions)
        await self._patch_status(node, status)
        node.registered = True

    async def _report(self, name: str) -> None:
        """Report the node's conditions again (a fresh heartbeat), once registered."""
        node = self._nodes[name]
        if node.registered:
            conditions = node_conditions(self._now(), node.conditions, ready=node.ready)
            await self._patch_status(node, {"conditions": conditions})

    async def _patch_status(self, node: _Node, status: Object) -> None:
        try:
            patched = await self._client.patch(
                NODES, node.spec.name, {"status": status}, subresource="status"
            )
        except errors.NotFound:
            node.uid, node.registered = None, False  # deleted: registered again next heartbeat
            raise
        node.conditions = (patched.get("status") or {}).get("conditions") or []

    async def _renew_lease(self, node: _Node) -> None:
        """Create the Lease, or update it with a new renewTime at its last resourceVersion;
        on a conflict read it again and retry once, as the kubelet's lease controller."""
        name = node.spec.name
        if node.lease is None:
            try:
                node.lease = await self._client.create(
                    LEASES, lease_object(name, node.uid or "", self._now())
                )
                return
            except errors.AlreadyExists:
                node.lease = await self._client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
        try:
            node.lease = await self._client.replace(
                LEASES, renewed_lease(node.lease, name, self._now())
            )
        except errors.Conflict:
            node.lease = await self._client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
            node.lease = await self._client.replace(
                LEASES, renewed_lease(node.lease, name, self._now())
            )
        except errors.NotFound:
            node.lease = None
            node.uid, node.registered = None, False  # the Node went, and its Lease with it
            raise

    # -- pods ----------------------------------------------------------------

    def set_ready(self, name: str, ready: bool) -> None:
        """Make node ``name``'s kubelet report Ready ``ready`` from now on (reported at once)."""
        self._nodes[name].ready = ready
        self._status_work.queue.add(name)

    def _node_changed(self, node: Object) -> None:
        name = node["metadata"]["name"]
        ours = self._nodes.get(name)
        if ours is not None and ours.registered and _reports_ready(node) != ours.ready:
            self._status_work.queue.add(name)

    async def _correct_status(self, name: str) -> Result:
        """Post the node's status again if the API's differs in readiness from ours."""
        node = self.node_watch.store.get(name)
        if node is None or _reports_ready(node) != self._nodes[name].ready:
            await self._report(name)
        return Result()

    def _pod_changed(self, pod: Object) -> None:
        """Queue a pod of ours that must start or go; note the address of one running."""
        if (pod.get("spec") or {}).get("nodeName") not in self._nodes:
            return
        metadata = pod["metadata"]
        if metadata.get("deletionTimestamp") or not is_running(pod):
            self._pod_work.queue.add(object_key(pod))
        else:
            address = (pod.get("status") or {}).get("podIP")
            if address:
                self._addresses.adopt(metadata["uid"], address)

    def _pod_gone(self, pod: Object) -> None:
        self._addresses.release(pod["metadata"].get("uid", ""))

    async def _sync_pod(self, key: str) -> Result:
        """Report the pod Running, or finish its deletion, as its node's kubelet would."""
        pod = self.pods.store.get(key)
        if pod is None:
            return Result()
        node = self._nodes.get((pod.get("spec") or {}).get("nodeName"))
        if node is None:
            return Result()
        namespace, name = split_key(key)
        uid = pod["metadata"]["uid"]
        try:
            if pod["metadata"].get("deletionTimestamp"):
                await self._client.delete(
                    PODS, name, namespace=namespace, grace_period_seconds=0,
                    preconditions={"uid": uid},
                )  # fmt: skip
                self.pods_deleted += 1
            elif not is_running(pod):
                status = running_pod_status(
                    pod, node.address, self._addresses.assign(uid), self._now()
                )
                patch = {"metadata": {"uid": uid}, "status": status}
                await self._client.patch(
                    PODS, name, patch, namespace=namespace, subresource="status"
                )
                self.pods_started += 1
        except (errors.NotFound, errors.Conflict):
            pass  # gone, or replaced by a pod of the same name: its own events follow
        return Result()


def _reports_ready(node: Object) -> bool:
    """Whether the Node the API holds says Ready=True, as a healthy hollow kubelet posts."""
    return is_true(node.get("status") or {}, "Ready")
