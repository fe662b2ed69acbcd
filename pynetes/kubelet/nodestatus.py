"""The Node a kubelet registers and keeps reporting, and its heartbeat Lease.

Pure builders (capacity, allocatable, conditions, the Node object) and
:class:`NodeStatusReporter`, which does what upstream's kubelet_node_status.go and
nodelease controller do:

- registration: create the Node; if it exists, reconcile what the kubelet owns
  (its default labels, the attach-detach annotation) and report the status;
- status: computed every ``nodeStatusUpdateFrequency``, patched when it differs
  from what the API holds (heartbeat times aside) or when
  ``nodeStatusReportFrequency`` has passed since the last report;
- Lease ``kube-node-lease/<node>``: held by the node, owned by the Node,
  renewed every ``nodeLeaseDurationSeconds / 4``.

Differences from upstream, on purpose: ``spec.podCIDR(s)`` is set at
registration from the configuration's ``podCIDR`` (upstream leaves it to the
node IPAM controller outside standalone mode); nodeInfo has no
``kubeProxyVersion`` (deprecated); ``images`` is not reported. The node name
stands for the host name (as ``--hostname-override`` makes it upstream): the
``kubernetes.io/hostname`` label and the Hostname address are the node name, so
that several kubelets on one machine each have their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynetes.api.meta import utc_now
from pynetes.api.nodes import (
    NODE_LEASE_NAMESPACE,
    lease_object,
    node_reference,
    renewed_lease,
    stamp_conditions,
)
from pynetes.api.quantity import Format, Quantity, parse_quantity
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.events import NORMAL, EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.host import HostIdentity, HostUsage, read_identity, read_usage

log = logging.getLogger(__name__)

Object = dict[str, Any]
WallClock = Callable[[], datetime]

NODES = built_in("", "v1", "nodes")
LEASES = built_in("coordination.k8s.io", "v1", "leases")

KUBELET_VERSION = "v1.31.0"
RUNTIME_VERSION = "pynetes-process://0.1.0"
FIELD_MANAGER = "kubelet"
#: Upstream's nodeStatusUpdateRetry: attempts of one status update.
STATUS_UPDATE_RETRIES = 5
#: The kubelet renews its Lease every this fraction of the lease duration.
LEASE_RENEW_FRACTION = 0.25
#: Waits between registration attempts, doubling (upstream: 100 ms to 7 s).
REGISTER_BACKOFF = (0.1, 7.0)
ATTACH_DETACH_ANNOTATION = "volumes.kubernetes.io/controller-managed-attach-detach"
#: Signals of evictionHard this kubelet evaluates: signal -> resource it reserves, if any.
_RESERVING_SIGNALS = {"memory.available": "memory", "nodefs.available": "ephemeral-storage"}


# -- resources ---------------------------------------------------------------


def _amount(resource: str, text: str) -> int:
    """A quantity in the unit the kubelet counts ``resource`` in (cpu: millicores)."""
    quantity = parse_quantity(text)
    return quantity.milli_value() if resource == "cpu" else quantity.value()


def _render(resource: str, amount: int) -> str:
    """``amount`` as the API shows it: cpu from millicores, bytes as binary SI."""
    if resource == "cpu":
        return str(Quantity(Decimal(amount) / 1000, Format.DECIMAL_SI))
    binary = resource in ("memory", "ephemeral-storage")
    return str(Quantity(Decimal(amount), Format.BINARY_SI if binary else Format.DECIMAL_SI))


def capacity_amounts(usage: HostUsage, config: KubeletConfiguration) -> dict[str, int]:
    """cpu (millicores), memory and ephemeral-storage (bytes), pods; overrides win."""
    amounts = {
        "cpu": usage.cpus * 1000,
        "memory": usage.memory_bytes,
        "ephemeral-storage": usage.fs_bytes,
        "pods": config.max_pods,
    }
    for resource, text in config.capacity_overrides.items():
        amounts[resource] = _amount(resource, text)
    return amounts


def threshold_amount(text: str, capacity: int) -> int:
    """An eviction threshold (``100Mi`` or ``10%``) in the unit of ``capacity``."""
    if text.endswith("%"):
        return int(Decimal(text[:-1]) * capacity / 100)
    return parse_quantity(text).value()


def allocatable_amounts(capacity: dict[str, int], config: KubeletConfiguration) -> dict[str, int]:
    """Capacity less kubeReserved, systemReserved and the hard eviction thresholds, as
    upstream's GetNodeAllocatableReservation (never below zero)."""
    reserved = dict.fromkeys(capacity, 0)
    for reservation in (config.kube_reserved, config.system_reserved):
        for resource, text in reservation.items():
            if resource in reserved:
                reserved[resource] += _amount(resource, text)
    for signal, resource in _RESERVING_SIGNALS.items():
        if signal in config.eviction_hard:
            reserved[resource] += threshold_amount(config.eviction_hard[signal], capacity[resource])
    return {resource: max(amount - reserved[resource], 0) for resource, amount in capacity.items()}


def render_resources(amounts: dict[str, int]) -> dict[str, str]:
    return {resource: _render(resource, amount) for resource, amount in amounts.items()}


# -- conditions --------------------------------------------------------------


def _below(config: KubeletConfiguration, signal: str, available: int, capacity: int) -> bool:
    text = config.eviction_hard.get(signal)
    return text is not None and available < threshold_amount(text, capacity)


def condition_states(
    usage: HostUsage, config: KubeletConfiguration, not_ready: str | None = None
) -> list[tuple[str, str, str, str]]:
    """(type, status, reason, message) of the four conditions, in the kubelet's order.

    Pressure is the host's usage against the ``evictionHard`` thresholds
    (memory.available; nodefs.available and nodefs.inodesFree; pid.available).
    ``not_ready`` is why the node is not Ready (a runtime that is down), or None.
    """
    memory = _below(config, "memory.available", usage.memory_available_bytes, usage.memory_bytes)
    disk = _below(config, "nodefs.available", usage.fs_available_bytes, usage.fs_bytes) or _below(
        config, "nodefs.inodesFree", usage.fs_inodes_free, usage.fs_inodes
    )
    pids = _below(config, "pid.available", usage.pid_max - usage.pids_in_use, usage.pid_max)
    return [
        ("MemoryPressure", "True", "KubeletHasInsufficientMemory",
         "kubelet has insufficient memory available") if memory else
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure") if disk
        else ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "True", "KubeletHasInsufficientPID",
         "kubelet has insufficient PID available") if pids else
        ("PIDPressure", "False", "KubeletHasSufficientPID",
         "kubelet has sufficient PID available"),
        ("Ready", "False", "KubeletNotReady", not_ready) if not_ready else
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]  # fmt: skip


#: Condition (type, status) -> the reason of the Event the kubelet records on a change.
_EVENT_REASONS = {
    ("MemoryPressure", "False"): "NodeHasSufficientMemory",
    ("MemoryPressure", "True"): "NodeHasInsufficientMemory",
    ("DiskPressure", "False"): "NodeHasNoDiskPressure",
    ("DiskPressure", "True"): "NodeHasDiskPressure",
    ("PIDPressure", "False"): "NodeHasSufficientPID",
    ("PIDPressure", "True"): "NodeHasInsufficientPID",
    ("Ready", "True"): "NodeReady",
    ("Ready", "False"): "NodeNotReady",
}


# -- the Node ----------------------------------------------------------------


def default_labels(node_name: str, identity: HostIdentity) -> dict[str, str]:
    """The labels the kubelet owns and sets on its Node."""
    return {
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": identity.operating_system,
        "kubernetes.io/arch": identity.architecture,
        "beta.kubernetes.io/os": identity.operating_system,
        "beta.kubernetes.io/arch": identity.architecture,
    }


def node_info(identity: HostIdentity, runtime_version: str) -> Object:
    return {
        "machineID": identity.machine_id,
        "systemUUID": identity.system_uuid,
        "bootID": identity.boot_id,
        "kernelVersion": identity.kernel_version,
        "osImage": identity.os_image,
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": KUBELET_VERSION,
        "operatingSystem": identity.operating_system,
        "architecture": identity.architecture,
    }


class NodeStatusReporter:
    """Registers node ``node_name`` and keeps its status and Lease current; ``run()`` it.

    ``clock`` gives the wall time of every stamp and decides when an unchanged
    status is due again; ``sleep`` waits between rounds (tests inject both).
    ``read_usage`` reads the host (tests may feed it pressure); ``ready_check``
    returns why the node is not Ready (e.g. the runtime is down), or None.
    ``recorder`` gets the Events of condition changes. After :meth:`register`
    returned, :attr:`node_uid` is the Node's uid.
    """

    def __init__(
        self,
        client: ApiClient,
        config: KubeletConfiguration,
        node_name: str,
        node_ip: str = "127.0.0.1",
        runtime_version: str = RUNTIME_VERSION,
        *,
        clock: WallClock = utc_now,
        sleep: Callable[[float], Any] = asyncio.sleep,
        root_dir: str = "/",
        identity: HostIdentity | None = None,
        read_usage: Callable[[str], HostUsage] = read_usage,
        ready_check: Callable[[], str | None] = lambda: None,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self.node_name = node_name
        self._node_ip = node_ip
        self._runtime_version = runtime_version
        self._clock = clock
        self._sleep = sleep
        self._root_dir = root_dir
        self._identity = identity or read_identity()
        self._read_usage = read_usage
        self._ready_check = ready_check
        self._recorder = recorder
        self.node_uid: str | None = None
        self.registered = asyncio.Event()
        self._last_report: datetime | None = None
        self._lease: Object | None = None

    # -- building --------------------------------------------------------------

    def status(self, previous: list[Object] | None = None) -> Object:
        """The status to report now; ``previous`` conditions keep their transition times."""
        usage = self._read_usage(self._root_dir)
        capacity = capacity_amounts(usage, self._config)
        states = condition_states(usage, self._config, self._ready_check())
        return {
            "capacity": render_resources(capacity),
            "allocatable": render_resources(allocatable_amounts(capacity, self._config)),
            "conditions": stamp_conditions(states, self._clock(), previous),
            "addresses": [
                {"type": "InternalIP", "address": self._node_ip},
                {"type": "Hostname", "address": self.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self._config.port}},
            "nodeInfo": node_info(self._identity, self._runtime_version),
        }

    def node_object(self) -> Object:
        """The Node as first registered (upstream's initialNode)."""
        spec: Object = {}
        if self._config.register_with_taints:
            spec["taints"] = [dict(taint) for taint in self._config.register_with_taints]
        if self._config.pod_cidr:
            spec["podCIDR"] = self._config.pod_cidr
            spec["podCIDRs"] = [self._config.pod_cidr]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": default_labels(self.node_name, self._identity),
                "annotations": {ATTACH_DETACH_ANNOTATION: "true"},
            },
            "spec": spec,
            "status": self.status(),
        }

    # -- registration ------------------------------------------------------------

    async def register(self) -> Object:
        """Register the Node, retrying with backoff until the API answers; the Node."""
        delay, limit = REGISTER_BACKOFF
        while True:
            try:
                node = await self._try_register()
            except (errors.ApiError, errors.TransportError) as error:
                log.warning("unable to register node %s: %s", self.node_name, error)
                await self._sleep(delay)
                delay = min(delay * 2, limit)
                continue
            self.node_uid = node["metadata"]["uid"]
            self._last_report = self._clock()
            self.registered.set()
            log.info("node %s registered", self.node_name)
            return node

    async def _try_register(self) -> Object:
        """Create the Node; if it exists, reconcile what the kubelet owns and report status."""
        wanted = self.node_object()
        try:
            node = await self._client.create(NODES, wanted, field_manager=FIELD_MANAGER)
        except errors.AlreadyExists:
            existing = await self._client.get(NODES, self.node_name)
            metadata = existing["metadata"]
            patch: Object = {}
            labels = metadata.get("labels") or {}
            owned = wanted["metadata"]["labels"]
            if any(labels.get(key) != value for key, value in owned.items()):
                patch["labels"] = owned
            annotations = metadata.get("annotations") or {}
            if annotations.get(ATTACH_DETACH_ANNOTATION) != "true":
                patch["annotations"] = wanted["metadata"]["annotations"]
            if patch:
                existing = await self._client.patch(
                    NODES, self.node_name, {"metadata": patch}, field_manager=FIELD_MANAGER
                )
            conditions = (existing.get("status") or {}).get("conditions")
            node = await self._patch_status(self.status(conditions))
            self._record_changes(conditions, node)
            return node
        self._record_changes(None, node)
        return node

    # -- status ------------------------------------------------------------------

    async def update_status(self) -> bool:
        """One round of upstream's updateNodeStatus: True if a status was written.

        Reads the Node, computes the status, and patches it when it differs from
        the API's (heartbeats aside) or the report frequency has passed.
        """
        for attempt in range(STATUS_UPDATE_RETRIES):
            try:
                return await self._try_update_status()
            except (errors.ApiError, errors.TransportError) as error:
                log.warning("error updating node %s status (try %d): %s",
                            self.node_name, attempt + 1, error)  # fmt: skip
        return False

    async def _try_update_status(self) -> bool:
        node = await self._client.get(NODES, self.node_name)
        current = node.get("status") or {}
        status = self.status(current.get("conditions"))
        now = self._clock()
        due = (
            self._last_report is None
            or (now - self._last_report).total_seconds()
            >= self._config.node_status_report_frequency
        )
        if not due and not _changed(_without_heartbeats(status), _without_heartbeats(current)):
            return False
        written = await self._patch_status(status)
        self._record_changes(current.get("conditions"), written)
        self._last_report = now
        return True

    async def _patch_status(self, status: Object) -> Object:
        return await self._client.patch(
            NODES, self.node_name, {"status": status}, subresource="status",
            field_manager=FIELD_MANAGER,
        )  # fmt: skip

    def _record_changes(self, before: list[Object] | None, node: Object) -> None:
        """An Event for each condition whose status changed (as the kubelet's recorder)."""
        if self._recorder is None:
            return
        old = {condition.get("type"): condition.get("status") for condition in before or []}
        for condition in (node.get("status") or {}).get("conditions") or []:
            kind, status = str(condition.get("type")), str(condition.get("status"))
            reason = _EVENT_REASONS.get((kind, status))
            if reason and old.get(kind) != status:
                self._recorder.event(
                    node_reference(self.node_name),
                    NORMAL,
                    reason,
                    f"Node {self.node_name} status is now: {reason}",
                )

    # -- lease -------------------------------------------------------------------

    async def renew_lease(self) -> Object:
        """Create the Lease or renew it at the resourceVersion last seen; the Lease.

        On a conflict the Lease is read again and the renewal retried once, as
        upstream's lease controller does; an old Lease without an owner gets the
        Node as owner.
        """
        name = self.node_name
        duration = self._config.node_lease_duration_seconds
        if self._lease is None:
            try:
                self._lease = await self._client.create(
                    LEASES, lease_object(name, self.node_uid or "", self._clock(), duration)
                )
                return self._lease
            except errors.AlreadyExists:
                self._lease = await self._client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
        try:
            self._lease = await self._client.replace(LEASES, self._renewed(self._lease))
        except errors.Conflict:
            self._lease = await self._client.get(LEASES, name, namespace=NODE_LEASE_NAMESPACE)
            self._lease = await self._client.replace(LEASES, self._renewed(self._lease))
        except errors.NotFound:
            self._lease = None
            raise
        return self._lease

    def _renewed(self, lease: Object) -> Object:
        renewed = renewed_lease(
            lease, self.node_name, self._clock(), self._config.node_lease_duration_seconds
        )
        metadata = renewed["metadata"]
        if not metadata.get("ownerReferences") and self.node_uid:
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                     "uid": self.node_uid}  # fmt: skip
            renewed["metadata"] = {**metadata, "ownerReferences": [owner]}
        return renewed

    # -- running -----------------------------------------------------------------

    async def run(self) -> None:
        """Register, then report status and renew the Lease until cancelled."""
        if self._config.register_node:
            await self.register()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._every(self._config.node_status_update_frequency,
                                          self.update_status))  # fmt: skip
            group.create_task(
                self._every(
                    self._config.node_lease_duration_seconds * LEASE_RENEW_FRACTION,
                    self.renew_lease,
                )
            )

    async def _every(self, period: float, action: Callable[[], Any]) -> None:
        """``action`` every ``period`` seconds; a failed round is logged and the next one tried."""
        while True:
            try:
                await action()
            except (errors.ApiError, errors.TransportError) as error:
                log.warning("node %s: %s failed: %s", self.node_name, action.__name__, error)
            await self._sleep(period)


def _without_heartbeats(status: Object) -> Object:
    """``status`` without the heartbeat times, which change on every report."""
    conditions = [
        {key: value for key, value in condition.items() if key != "lastHeartbeatTime"}
        for condition in status.get("conditions") or []
    ]
    return {**status, "conditions": conditions}


def _changed(wanted: Any, current: Any) -> bool:
    """Whether ``current`` differs from ``wanted`` in what ``wanted`` says: maps are
    compared on ``wanted``'s keys only (the API adds fields of its own, such as an
    empty ``nodeInfo.kubeProxyVersion``), anything else as a whole."""
    if isinstance(wanted, dict) and isinstance(current, dict):
        return any(_changed(value, current.get(key)) for key, value in wanted.items())
    return wanted != current
