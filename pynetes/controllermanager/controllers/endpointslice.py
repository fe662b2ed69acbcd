"""The endpointslice controller: EndpointSlices for every Service with a selector.

As upstream's EndpointSlice controller and reconciler (Kubernetes 1.31),
without topology hints. A Service's slices carry its labels plus
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io``, are named ``<service>-<random>`` and
owned by it (controller, blockOwnerDeletion: the garbage collector deletes
them with it). Each endpoint is a selected pod that has an IP of the
slice's address type and has not finished; terminating pods stay, with
``terminating: true``; ``serving`` is the pod's readiness and ``ready`` is
serving and not terminating (always true with ``publishNotReadyAddresses``).
Pods sharing the same resolved ports share slices of at most
``--max-endpoints-per-slice`` endpoints. A pod whose Node is unknown is left
out (unless ``publishNotReadyAddresses``) with a Warning Event and retried;
a Node that comes, goes or changes zone re-syncs the Services of its pods.

Reconciling changes as little as it can: endpoints are updated where they
are, slices with room are filled before new ones are made, a slice left
empty is deleted (or reused for a new one), and a Service with no endpoint
keeps one empty placeholder slice. Slices another controller manages are
never touched. Before acting on its cache the controller checks that its
own earlier writes are in it (:class:`SliceTracker`), so it never makes the
same slice twice.
"""

from __future__ import annotations

import argparse
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynetes.api.meta import resource_version
from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.flowcontrol import TokenBucket
from pynetes.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
)
from pynetes.controller import Controller, Result
from pynetes.controllermanager import options
from pynetes.controllermanager.common.endpoints import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    PODS,
    SERVICES,
    TriggerTimeTracker,
    find_port,
    is_external_name,
    is_headless,
    is_ipv6,
    is_terminating,
    pod_handler,
    pod_ips,
    pod_reference,
    publishes_not_ready,
    selected_pods,
    service_ip_families,
    service_selector,
    services_of_pod,
    should_pod_be_in_endpoints,
    should_set_hostname,
    trigger_time_text,
)
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

Object = dict[str, Any]

ENDPOINT_SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
NODES = built_in("", "v1", "nodes")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
_RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})
COMPONENT = "endpoint-slice-controller"
#: Upstream's bounds of --max-endpoints-per-slice.
MAX_ENDPOINTS_PER_SLICE_LIMIT = 1000
#: Per-Service retry backoff (upstream's defaultSyncBackOff and maxSyncBackOff).
SYNC_BACKOFF, MAX_SYNC_BACKOFF = 1.0, 1000.0

_SERVICE_INDEX = "endpointslice-service"
_NODE_INDEX = "pod-node"

#: One port as the slices compare them: name, number, protocol, appProtocol.
_PortKey = tuple[tuple[str, int, str, str], ...]
#: An endpoint's identity: its addresses, hostname and pod (upstream's endpoint hash).
_EndpointKey = tuple[tuple[str, ...], str, str, str]


# --- What the slices should hold -------------------------------------------------------


def address_types(service: Object) -> list[str]:
    """The slice address types a Service's IP families ask for."""
    return [family for family in service_ip_families(service) if family in ("IPv4", "IPv6")]


def slice_ports(service: Object, pod: Object) -> list[Object]:
    """The Service's ports as this pod serves them; ports it lacks are left out."""
    ports: list[Object] = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Object = {
            "name": service_port.get("name") or "",
            "port": number,
            "protocol": service_port.get("protocol") or "TCP",
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def ports_key(ports: list[Object]) -> _PortKey:
    return tuple(
        sorted(
            (
                port.get("name") or "",
                port.get("port") or 0,
                port.get("protocol") or "TCP",
                port.get("appProtocol") or "",
            )
            for port in ports
        )
    )


def endpoint_key(endpoint: Object) -> _EndpointKey:
    reference = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or [])),
        endpoint.get("hostname") or "",
        reference.get("namespace") or "",
        reference.get("name") or "",
    )


def pod_endpoint(service: Object, pod: Object, node: Object | None, address_type: str) -> Object:
    """The endpoint of ``pod`` in the Service's slices of ``address_type``."""
    serving = is_ready(pod)
    terminating = is_terminating(pod)
    want_ipv6 = address_type == "IPv6"
    endpoint: Object = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_ipv6],
        "conditions": {
            "ready": publishes_not_ready(service) or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
        "targetRef": pod_reference(pod),
    }
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = spec["hostname"]
    return endpoint


@dataclass
class PortGroup:
    """The endpoints that serve one set of ports."""

    ports: list[Object]
    endpoints: dict[_EndpointKey, Object] = field(default_factory=dict)


@dataclass
class Desired:
    """What a Service's slices of one address type should hold, by ports."""

    groups: dict[_PortKey, PortGroup]
    #: Pods left out because their Node is unknown (retried later, as upstream).
    problems: list[str]


def desired_endpoints(
    service: Object,
    pods: list[Object],
    node_of: Callable[[str], Object | None],
    address_type: str,
) -> Desired:
    """Group the Service's endpoints by the ports their pods serve, pods in name order."""
    metadata = service["metadata"]
    groups: dict[_PortKey, PortGroup] = {}
    problems: list[str] = []
    for pod in sorted(pods, key=lambda pod: pod["metadata"]["name"]):
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = node_of(node_name)
        if node is None and not publishes_not_ready(service):
            problems.append(
                f"skipping Pod {pod['metadata']['name']} for Service "
                f"{metadata['namespace']}/{metadata['name']}: Node {node_name} Not Found"
            )
            continue
        ports = slice_ports(service, pod)
        group = groups.setdefault(ports_key(ports), PortGroup(ports))
        endpoint = pod_endpoint(service, pod, node, address_type)
        if endpoint["addresses"]:
            group.endpoints.setdefault(endpoint_key(endpoint), endpoint)
    return Desired(groups, problems)


def slice_labels(service: Object) -> dict[str, str]:
    """The Service's labels (not the reserved ones) and the labels naming the slice's owner."""
    labels = {
        key: value
        for key, value in (service["metadata"].get("labels") or {}).items()
        if key not in _RESERVED_LABELS
    }
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def owned_by(endpoint_slice: Object, service: Object) -> bool:
    uid = service["metadata"]["uid"]
    return any(
        owner.get("uid") == uid
        and owner.get("kind") == "Service"
        and owner.get("apiVersion") == "v1"
        for owner in endpoint_slice["metadata"].get("ownerReferences") or []
    )


def new_slice(service: Object, ports: list[Object], address_type: str) -> Object:
    metadata = service["metadata"]
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{metadata['name']}-",
            "namespace": metadata["namespace"],
            "labels": slice_labels(service),
            "ownerReferences": [owner],
        },
        "addressType": address_type,
        "ports": ports,
        "endpoints": [],
    }


def _with(endpoint_slice: Object, **changes: Any) -> Object:
    """A copy of ``endpoint_slice`` (never the cached one) with fields replaced."""
    labels = changes.pop("labels", None)
    copy = {**endpoint_slice, **changes, "metadata": dict(endpoint_slice["metadata"])}
    if labels is not None:
        copy["metadata"]["labels"] = labels
    return copy


@dataclass
class Plan:
    """The writes that bring a Service's slices to what they should hold."""

    create: list[Object] = field(default_factory=list)
    update: list[Object] = field(default_factory=list)
    delete: list[Object] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.create += other.create
        self.update += other.update
        self.delete += other.delete


def plan_ports(
    service: Object, existing: list[Object], group: PortGroup, address_type: str, limit: int
) -> Plan:
    """Upstream's reconcileByPortMapping for the slices of one set of ports.

    1. Each existing slice keeps the endpoints still wanted (as now wanted)
       and drops the others; one left empty is deleted. An endpoint found
       twice is kept once.
    2. Endpoints still unplaced fill the slices already being updated,
       fullest first.
    3. The rest go, when fewer than a slice holds, into the unchanged slice
       they fill most closely; else into new slices.
    """
    wanted = dict(group.endpoints)
    labels = slice_labels(service)
    plan = Plan()
    updating: list[Object] = []
    unchanged: list[Object] = []
    for current in existing:
        kept = []
        for endpoint in current.get("endpoints") or []:
            desired = wanted.pop(endpoint_key(endpoint), None)
            if desired is not None:
                kept.append(desired)
        if kept != (current.get("endpoints") or []):
            if kept:
                updating.append(_with(current, endpoints=kept, labels=labels))
            else:
                plan.delete.append(current)
        elif (current["metadata"].get("labels") or {}) != labels:
            updating.append(_with(current, labels=labels))
        else:
            unchanged.append(current)
    remaining = list(wanted.values())
    for target in sorted(updating, key=lambda s: len(s["endpoints"]), reverse=True):
        room = limit - len(target["endpoints"])
        if room > 0 and remaining:
            target["endpoints"] = target["endpoints"] + remaining[:room]
            remaining = remaining[room:]
    while remaining:
        target = None
        if len(remaining) < limit:
            target = _closest_fit(unchanged, len(remaining), limit)
        if target is None:
            target = new_slice(service, group.ports, address_type)
            plan.create.append(target)
        else:
            unchanged.remove(target)
            target = _with(target, endpoints=list(target.get("endpoints") or []))
            updating.append(target)
        room = limit - len(target["endpoints"])
        target["endpoints"] = target["endpoints"] + remaining[:room]
        remaining = remaining[room:]
    plan.update += updating
    return plan


def _closest_fit(candidates: list[Object], count: int, limit: int) -> Object | None:
    """The slice that ``count`` more endpoints fill most closely without overflowing."""
    fitting = [s for s in candidates if len(s.get("endpoints") or []) + count <= limit]
    return max(fitting, key=lambda s: len(s.get("endpoints") or []), default=None)


def plan_address_type(
    service: Object, existing: list[Object], desired: Desired, address_type: str, limit: int
) -> Plan:
    """Upstream's reconcileByAddressType (and its finalize's reuse of deleted slices)."""
    plan = Plan()
    by_ports: dict[_PortKey, list[Object]] = defaultdict(list)
    for current in existing:
        if owned_by(current, service):
            by_ports[ports_key(current.get("ports") or [])].append(current)
        else:
            plan.delete.append(current)  # a former Service's of the same name
    for key, group in desired.groups.items():
        plan.extend(plan_ports(service, by_ports.get(key, []), group, address_type, limit))
    for key, slices in by_ports.items():
        if key not in desired.groups:
            plan.delete += slices
    if len(plan.delete) == len(existing) and not plan.create:
        _keep_a_placeholder(service, plan, address_type)
    _reuse_deleted(service, plan)
    return plan


def _keep_a_placeholder(service: Object, plan: Plan, address_type: str) -> None:
    """A Service without endpoints still has one (empty) slice: keep it, or make it."""
    if len(plan.delete) == 1:
        only = plan.delete[0]
        if (
            owned_by(only, service)
            and not only.get("endpoints")
            and not only.get("ports")
            and (only["metadata"].get("labels") or {}) == slice_labels(service)
        ):
            plan.delete.clear()
            return
    plan.create.append(new_slice(service, [], address_type))


def _reuse_deleted(service: Object, plan: Plan) -> None:
    """Rather than create one slice and delete another, rewrite the one to delete."""
    reusable = [s for s in plan.delete if owned_by(s, service)]
    while plan.create and reusable:
        made, old = plan.create.pop(), reusable.pop()
        plan.delete.remove(old)
        plan.update.append(
            _with(
                old,
                ports=made["ports"],
                endpoints=made["endpoints"],
                labels=made["metadata"]["labels"],
            )
        )


# --- Own writes ------------------------------------------------------------------------


_DELETED = -1


class SliceTracker:
    """The slice versions this controller wrote, per Service, until its informer shows them.

    As upstream's EndpointSliceTracker (by resourceVersion rather than
    generation): a cache that lacks one of them is stale, and syncing from
    it could make a slice twice or undo a write; and an informer event
    that only reports our own write needs no sync.
    """

    def __init__(self) -> None:
        self._expected: dict[str, dict[str, int]] = {}

    def wrote(self, service_key: str, endpoint_slice: Object) -> None:
        uid = endpoint_slice["metadata"]["uid"]
        self._expected.setdefault(service_key, {})[uid] = resource_version(endpoint_slice)

    def deleting(self, service_key: str, endpoint_slice: Object) -> None:
        self._expected.setdefault(service_key, {})[endpoint_slice["metadata"]["uid"]] = _DELETED

    def stale(self, service_key: str, cached: list[Object]) -> bool:
        """Whether ``cached`` (the Service's slices in the informer) misses one of our writes.

        Writes it shows are forgotten (their event may have come before we
        noted them).
        """
        expected = self._expected.get(service_key)
        if not expected:
            return False
        versions = {s["metadata"]["uid"]: resource_version(s) for s in cached}
        for uid, version in list(expected.items()):
            seen = versions.get(uid)
            if seen is None if version == _DELETED else (seen is not None and seen >= version):
                del expected[uid]
        if not expected:
            del self._expected[service_key]
        return bool(expected)

    def observed(self, service_key: str, endpoint_slice: Object, *, deleted: bool) -> bool:
        """Note an informer event; True if it only shows this controller's own write."""
        expected = self._expected.get(service_key)
        if expected is None:
            return False
        uid = endpoint_slice["metadata"].get("uid", "")
        version = expected.get(uid)
        own = False
        if deleted:
            own = version == _DELETED
            expected.pop(uid, None)
        elif version is not None and version != _DELETED:
            seen = resource_version(endpoint_slice)
            own = seen == version
            if seen >= version:
                del expected[uid]
        if not expected:
            del self._expected[service_key]
        return own

    def caught_up(self, service_key: str) -> bool:
        return service_key not in self._expected

    def forget(self, service_key: str) -> None:
        self._expected.pop(service_key, None)


# --- The controller --------------------------------------------------------------------


def _managed_slice_service(endpoint_slice: Object) -> list[str]:
    """Index: the ``namespace/service`` key of a slice this controller manages."""
    metadata = endpoint_slice["metadata"]
    labels = metadata.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return []
    return [f"{metadata.get('namespace', '')}/{labels[SERVICE_NAME_LABEL]}"]


def _pod_node(pod: Object) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


class EndpointSliceController:
    """Keeps each selecting Service's EndpointSlices equal to its pods (see the module doc)."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._limit: int = context.options.max_endpoints_per_slice
        services = context.informers.informer(SERVICES)
        pods = context.informers.informer(PODS, indexers={_NODE_INDEX: _pod_node})
        nodes = context.informers.informer(NODES)
        slices = context.informers.informer(
            ENDPOINT_SLICES, indexers={_SERVICE_INDEX: _managed_slice_service}
        )
        self._services = Lister(services.store)
        self._pods = Lister(pods.store)
        self._pods_by_node = pods.store
        self._nodes = Lister(nodes.store)
        self._slices = slices.store
        self._recorder = context.recorder(COMPONENT)
        self._trigger_times = TriggerTimeTracker()
        self._tracker = SliceTracker()
        self._waiting_for_cache: set[str] = set()
        backoff = MaxOfRateLimiter(
            ItemExponentialFailureRateLimiter(SYNC_BACKOFF, MAX_SYNC_BACKOFF),
            BucketRateLimiter(TokenBucket(10.0, 100, clock=context.clock)),
        )
        self._controller = Controller(
            "endpointslice",
            self._sync,
            workers=context.workers("concurrent_service_endpoint_syncs", 5),
            queue=context.queue("endpoint_slice", backoff),
        )
        self._queue = self._controller.queue

        def queue_object(obj: Object) -> None:
            self._queue.add(object_key(obj))

        services.add_event_handler(
            EventHandler(queue_object, lambda _old, new: queue_object(new), queue_object)
        )
        batch_period: float = context.options.endpointslice_updates_batch_period
        pods.add_event_handler(pod_handler(self._services, self._queue, batch_period))
        nodes.add_event_handler(
            EventHandler(self._node_changed, self._node_updated, self._node_changed)
        )
        slices.add_event_handler(
            EventHandler(
                lambda s: self._slice_changed(s, deleted=False),
                self._slice_updated,
                lambda s: self._slice_changed(s, deleted=True),
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    # -- events ----------------------------------------------------------------------

    def _node_changed(self, node: Object) -> None:
        """Pods on a Node that came or went may have been left out, or now must be."""
        services: set[str] = set()
        for pod in self._pods_by_node.by_index(_NODE_INDEX, node["metadata"]["name"]):
            metadata = pod["metadata"]
            services |= services_of_pod(
                self._services, metadata["namespace"], metadata.get("labels")
            )
        for key in services:
            self._queue.add(key)

    def _node_updated(self, old: Object, new: Object) -> None:
        old_zone = (old["metadata"].get("labels") or {}).get(ZONE_LABEL)
        if old_zone != (new["metadata"].get("labels") or {}).get(ZONE_LABEL):
            self._node_changed(new)

    def _slice_changed(self, endpoint_slice: Object, *, deleted: bool) -> None:
        for key in _managed_slice_service(endpoint_slice):
            own = self._tracker.observed(key, endpoint_slice, deleted=deleted)
            if not own:
                self._queue.add(key)
            elif key in self._waiting_for_cache and self._tracker.caught_up(key):
                self._waiting_for_cache.discard(key)
                self._queue.add(key)

    def _slice_updated(self, old: Object, new: Object) -> None:
        if _managed_slice_service(old) != _managed_slice_service(new):
            for key in _managed_slice_service(old):
                self._queue.add(key)  # relabelled away from its Service
        self._slice_changed(new, deleted=False)

    # -- sync ------------------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        service = self._services.get(name, namespace)
        if service is None:
            # its slices go with it: the garbage collector follows their ownerReferences
            self._trigger_times.forget(key)
            self._tracker.forget(key)
            self._waiting_for_cache.discard(key)
            return Result()
        if is_external_name(service) or service_selector(service) is None:
            return Result()
        existing = [
            s
            for s in self._slices.by_index(_SERVICE_INDEX, key)
            if not s["metadata"].get("deletionTimestamp")
        ]
        if self._tracker.stale(key, existing):
            self._waiting_for_cache.add(key)  # synced again once the informer caught up
            return Result(requeue=True)
        pods = selected_pods(service, self._pods)
        trigger_time = self._trigger_times.compute(service, pods)
        plan, problems = self._plan(service, pods, existing)
        annotation = None if trigger_time is None else trigger_time_text(trigger_time)
        try:
            await self._apply(key, service, plan, annotation)
        except errors.ApiError as error:
            if errors.namespace_terminating(error):
                return Result()
            problems.append(error.message)
        if problems:
            self._recorder.event(
                service,
                "Warning",
                "FailedToUpdateEndpointSlices",
                f"Error updating Endpoint Slices for Service {key}: {_aggregate(problems)}",
            )
            return Result(requeue=True)
        return Result()

    def _plan(
        self, service: Object, pods: list[Object], existing: list[Object]
    ) -> tuple[Plan, list[str]]:
        """Upstream's Reconcile: each address type the Service has; slices of others go."""
        types = address_types(service)
        plan = Plan(delete=[s for s in existing if s.get("addressType") not in types])
        problems: list[str] = []
        for address_type in types:
            desired = desired_endpoints(service, pods, self._nodes.get, address_type)
            problems += desired.problems
            of_type = [s for s in existing if s.get("addressType") == address_type]
            plan.extend(plan_address_type(service, of_type, desired, address_type, self._limit))
        return plan, problems

    async def _apply(self, key: str, service: Object, plan: Plan, trigger: str | None) -> None:
        """Creates, then updates, then deletes, as upstream's finalize; each noted as ours."""
        client = self._client
        if not service["metadata"].get("deletionTimestamp"):  # else racing the collector
            for endpoint_slice in plan.create:
                self._tracker.wrote(
                    key, await client.create(ENDPOINT_SLICES, _annotated(endpoint_slice, trigger))
                )
        for endpoint_slice in plan.update:
            self._tracker.wrote(
                key, await client.replace(ENDPOINT_SLICES, _annotated(endpoint_slice, trigger))
            )
        for endpoint_slice in plan.delete:
            metadata = endpoint_slice["metadata"]
            self._tracker.deleting(key, endpoint_slice)
            with contextlib.suppress(errors.NotFound):  # already gone: what we wanted
                await client.delete(
                    ENDPOINT_SLICES,
                    metadata["name"],
                    namespace=metadata["namespace"],
                    preconditions={"uid": metadata["uid"]},
                )


def _aggregate(problems: list[str]) -> str:
    """Several errors as Go's aggregate error prints them."""
    return problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"


def _annotated(endpoint_slice: Object, trigger: str | None) -> Object:
    """The slice with the last-change-trigger-time annotation set (or removed if None)."""
    metadata = dict(endpoint_slice["metadata"])
    annotations = dict(metadata.get("annotations") or {})
    if trigger is None:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    else:
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger
    metadata["annotations"] = annotations
    return {**endpoint_slice, "metadata": metadata}


def _slices_per_endpoint_limit(text: str) -> int:
    """``--max-endpoints-per-slice``: 1 to 1000, as upstream validates it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 1 <= value <= MAX_ENDPOINTS_PER_SLICE_LIMIT:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {MAX_ENDPOINTS_PER_SLICE_LIMIT}, not {value}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-endpoints-per-slice",
        type=_slices_per_endpoint_limit,
        default=100,
        help="the most endpoints one EndpointSlice holds",
    )
    parser.add_argument(
        "--endpointslice-updates-batch-period",
        type=options.duration,
        default=0.0,
        help="how long pod changes are gathered before a Service's EndpointSlices are synced",
    )


CONTROLLER = ControllerDescriptor(
    name="endpointslice",
    build=EndpointSliceController,
    concurrency_flag="--concurrent-service-endpoint-syncs",
    default_workers=5,
    add_arguments=add_arguments,
)
