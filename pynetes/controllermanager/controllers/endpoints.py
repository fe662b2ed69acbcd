"""The endpoint controller: an Endpoints object for every Service with a selector.

As upstream's EndpointController (Kubernetes 1.31). The Endpoints object has
the Service's name and labels (plus ``service.kubernetes.io/headless`` for a
Service without a cluster IP). Its subsets list the selected pods that have
an IP: ready ones as ``addresses``, the others as ``notReadyAddresses``
(all as ready with ``publishNotReadyAddresses``); terminating pods are left
out unless ``publishNotReadyAddresses``; finished pods always are. Each
pod's ports are the Service's ports with named ``targetPort`` s looked up
among its containers, so pods whose ports differ land in different subsets.
Past 1000 addresses the list is truncated (ready addresses kept first) and
annotated ``endpoints.kubernetes.io/over-capacity: truncated``.

Services without a selector have user-managed Endpoints and are left alone;
a deleted Service takes its Endpoints with it. Nothing is written when the
computed subsets, labels and capacity annotation equal what is stored.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections import defaultdict
from typing import Any

from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import object_key, split_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
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
    pod_handler,
    pod_ips,
    pod_reference,
    publishes_not_ready,
    selected_pods,
    service_ip_families,
    service_selector,
    should_pod_be_in_endpoints,
    should_set_hostname,
    trigger_time_text,
)
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

Object = dict[str, Any]

ENDPOINTS = built_in("", "v1", "endpoints")
#: Upstream's maxCapacity: the most addresses one Endpoints object holds.
MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
#: Endpoints the leader-election of old components kept; never a Service's (upstream).
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
COMPONENT = "endpoint-controller"

#: A Service port as an Endpoints port; ``()`` stands for "no ports" (a headless Service).
_PortKey = tuple[tuple[str, Any], ...]
#: An address's identity in a subset: its IP and its pod's uid.
_AddressKey = tuple[str, str]


# --- What the Endpoints should hold -------------------------------------------------


def endpoint_ip(service: Object, pod: Object) -> str | None:
    """The pod IP of the Service's (primary) family, or None if the pod has none."""
    want_ipv6 = service_ip_families(service)[0] == "IPv6"
    return next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_ipv6), None)


def endpoint_address(service: Object, pod: Object, ip: str) -> Object:
    address: Object = {"ip": ip, "targetRef": pod_reference(pod)}
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    if should_set_hostname(pod, service):
        address["hostname"] = spec["hostname"]
    return address


def endpoint_ports(service: Object, pod: Object) -> list[_PortKey] | None:
    """The pod's ports for the Service; None if the pod serves none of them.

    A headless Service without ports gets its pods' addresses alone (the
    ``()`` port); any other portless Service gets nothing.
    """
    service_ports = (service.get("spec") or {}).get("ports") or []
    if not service_ports:
        return [()] if is_headless(service) else None
    resolved: list[_PortKey] = []
    for service_port in service_ports:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Object = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("name"):
            port["name"] = service_port["name"]
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        resolved.append(tuple(sorted(port.items())))
    return resolved or None


def desired_subsets(service: Object, pods: list[Object]) -> list[Object]:
    """The subsets of ``service``'s Endpoints for ``pods`` (the ones it selects).

    As upstream's RepackSubsets: ports offered by the same set of addresses
    share a subset, so pods whose named ports resolve alike are grouped.
    Sorted, so equal inputs give equal lists.
    """
    tolerate_unready = publishes_not_ready(service)
    addresses: dict[_AddressKey, tuple[Object, bool]] = {}
    offered_by: dict[_PortKey, set[_AddressKey]] = defaultdict(set)
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        ip = endpoint_ip(service, pod)
        ports = endpoint_ports(service, pod)
        if ip is None or ports is None:
            continue
        key = (ip, pod["metadata"]["uid"])
        addresses[key] = (endpoint_address(service, pod, ip), tolerate_unready or is_ready(pod))
        for port in ports:
            offered_by[port].add(key)
    ports_by_addresses: dict[frozenset[_AddressKey], list[_PortKey]] = defaultdict(list)
    for port, keys in offered_by.items():
        ports_by_addresses[frozenset(keys)].append(port)
    subsets = [
        _subset([addresses[key] for key in sorted(keys)], ports)
        for keys, ports in ports_by_addresses.items()
    ]
    return sorted(subsets, key=_subset_order)


def _subset(members: list[tuple[Object, bool]], ports: list[_PortKey]) -> Object:
    subset: Object = {}
    ready = [address for address, is_ready in members if is_ready]
    not_ready = [address for address, is_ready in members if not is_ready]
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    listed = [dict(port) for port in ports if port]
    if listed:
        subset["ports"] = sorted(listed, key=_port_order)
    return subset


def _port_order(port: Object) -> tuple[str, int, str]:
    return (port.get("name", ""), port["port"], port["protocol"])


def _subset_order(subset: Object) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    ports = [_port_order(port) for port in subset.get("ports") or []]
    return (first.get("ip", ""), first.get("targetRef", {}).get("uid", ""), ports)


def address_count(subsets: list[Object]) -> int:
    return sum(
        len(subset.get("addresses") or []) + len(subset.get("notReadyAddresses") or [])
        for subset in subsets
    )


def truncate(subsets: list[Object]) -> list[Object] | None:
    """The subsets cut to :data:`MAX_CAPACITY` addresses, or None if they fit.

    As upstream's truncateEndpoints: not-ready addresses go first; if the
    ready ones alone are too many, every not-ready one goes and the ready
    ones are cut. Each subset keeps its proportion of what is cut, rounded
    up while room remains.
    """
    ready = sum(len(subset.get("addresses") or []) for subset in subsets)
    if address_count(subsets) <= MAX_CAPACITY:
        return None
    cut_ready = ready > MAX_CAPACITY
    field = "addresses" if cut_ready else "notReadyAddresses"
    share = MAX_CAPACITY if cut_ready else MAX_CAPACITY - ready
    room = share
    total = sum(len(subset.get(field) or []) for subset in subsets)
    truncated: list[Object] = []
    for subset in subsets:
        members = subset.get(field) or []
        kept = min(math.ceil(len(members) / total * share), room)
        room -= kept
        cut = {**subset, field: members[:kept]}
        if cut_ready:
            cut.pop("notReadyAddresses", None)
        truncated.append({key: value for key, value in cut.items() if value})
    return truncated


def desired_labels(service: Object) -> dict[str, str]:
    labels = dict(service["metadata"].get("labels") or {})
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


# --- The controller -----------------------------------------------------------------


class EndpointsController:
    """Keeps each selecting Service's Endpoints equal to its pods (see the module doc)."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        services = context.informers.informer(SERVICES)
        pods = context.informers.informer(PODS)
        endpoints = context.informers.informer(ENDPOINTS)
        self._services = Lister(services.store)
        self._pods = Lister(pods.store)
        self._endpoints = Lister(endpoints.store)
        self._recorder = context.recorder(COMPONENT)
        self._trigger_times = TriggerTimeTracker()
        self._controller = Controller(
            "endpoint",
            self._sync,
            workers=context.workers("concurrent_endpoint_syncs", 5),
            queue=context.queue("endpoint"),
        )
        queue = self._controller.queue

        def queue_object(obj: Object) -> None:
            queue.add(object_key(obj))

        services.add_event_handler(
            EventHandler(queue_object, lambda _old, new: queue_object(new), queue_object)
        )
        batch_period: float = context.options.endpoint_updates_batch_period
        pods.add_event_handler(pod_handler(self._services, queue, batch_period))
        # an Endpoints object deleted while its Service remains is made again
        endpoints.add_event_handler(EventHandler(on_delete=queue_object))

    async def run(self) -> None:
        self._queue_leftover_endpoints()
        await self._controller.run()

    def _queue_leftover_endpoints(self) -> None:
        """Sync every Endpoints object once: those whose Service went while we were away go."""
        for endpoints in self._endpoints.list():
            annotations = endpoints["metadata"].get("annotations") or {}
            if LEADER_ANNOTATION not in annotations:
                self._controller.queue.add(object_key(endpoints))

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        service = self._services.get(name, namespace)
        if service is None:
            self._trigger_times.forget(key)
            with contextlib.suppress(errors.NotFound):
                await self._client.delete(ENDPOINTS, name, namespace=namespace)
            return Result()
        if is_external_name(service) or service_selector(service) is None:
            return Result()
        pods = selected_pods(service, self._pods)
        trigger_time = self._trigger_times.compute(service, pods)
        subsets = desired_subsets(service, pods)
        truncated = truncate(subsets)
        over_capacity = truncated is not None
        subsets = subsets if truncated is None else truncated
        labels = desired_labels(service)
        current = self._endpoints.get(name, namespace)
        if current is not None and _up_to_date(current, subsets, labels, over_capacity):
            return Result()
        desired = _updated(current, service, subsets, labels)
        annotations = desired["metadata"]["annotations"]
        trigger_text = None if trigger_time is None else trigger_time_text(trigger_time)
        _set_or_drop(annotations, LAST_CHANGE_TRIGGER_TIME, trigger_text)
        _set_or_drop(annotations, OVER_CAPACITY, "truncated" if over_capacity else None)
        return await self._write(desired, created=current is None)

    async def _write(self, endpoints: Object, *, created: bool) -> Result:
        try:
            if created:
                await self._client.create(ENDPOINTS, endpoints)
            else:
                await self._client.replace(ENDPOINTS, endpoints)
        except (errors.Conflict, errors.AlreadyExists):
            return Result(requeue=True)  # our cache was behind: sync again on fresh data
        except errors.ApiError as error:
            if created and errors.namespace_terminating(error):
                return Result()  # creates will keep failing there; nothing to keep
            metadata = endpoints["metadata"]
            reason, what = (
                ("FailedToCreateEndpoint", "Failed to create endpoint for service")
                if created
                else ("FailedToUpdateEndpoint", "Failed to update endpoint")
            )
            self._recorder.event(
                endpoints,
                "Warning",
                reason,
                f"{what} {metadata['namespace']}/{metadata['name']}: {error.message}",
            )
            return Result(requeue=True)
        return Result()


def _up_to_date(
    current: Object, subsets: list[Object], labels: dict[str, str], over_capacity: bool
) -> bool:
    """Whether ``current`` already says it all: the trigger time alone is no reason to write."""
    annotations = current["metadata"].get("annotations") or {}
    return (
        (current.get("subsets") or []) == subsets
        and (current["metadata"].get("labels") or {}) == labels
        and (OVER_CAPACITY in annotations) == over_capacity
    )


def _updated(
    current: Object | None, service: Object, subsets: list[Object], labels: dict[str, str]
) -> Object:
    """``current`` (or a new Endpoints object of the Service's name) with these contents."""
    metadata = service["metadata"]
    base = current or {"metadata": {"name": metadata["name"], "namespace": metadata["namespace"]}}
    updated: Object = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        **base,
        "metadata": {
            **base["metadata"],
            "labels": labels,
            "annotations": dict(base["metadata"].get("annotations") or {}),
        },
    }
    if subsets:
        updated["subsets"] = subsets
    else:
        updated.pop("subsets", None)
    return updated


def _set_or_drop(annotations: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        annotations.pop(key, None)
    else:
        annotations[key] = value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-updates-batch-period",
        type=options.duration,
        default=0.0,
        help="how long pod changes are gathered before a Service's Endpoints are synced",
    )


CONTROLLER = ControllerDescriptor(
    name="endpoint",
    build=EndpointsController,
    concurrency_flag="--concurrent-endpoint-syncs",
    default_workers=5,
    add_arguments=add_arguments,
)
