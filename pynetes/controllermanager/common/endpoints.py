"""What the endpoint and endpointslice controllers share (upstream's controller/util/endpoint).

Which pods back a Service, which of them count, where their ports are, and
which Services a pod change concerns. Objects are the plain dicts the
informers hold; nothing here writes to the API.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pynetes.api.labels import Selector, selector_from_set
from pynetes.api.meta import parse_timestamp, timestamp
from pynetes.api.pods import is_ready, is_terminal, ready_condition
from pynetes.api.resources import built_in
from pynetes.client.cache.indexer import object_key
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister

Object = dict[str, Any]

SERVICES = built_in("", "v1", "services")
PODS = built_in("", "v1", "pods")

#: Set (empty) on the Endpoints and EndpointSlices of a Service without a cluster IP.
HEADLESS_LABEL = "service.kubernetes.io/headless"
#: When the change that led to this Endpoints/EndpointSlice content happened.
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


# --- Services --------------------------------------------------------------------


def service_selector(service: Object) -> Selector | None:
    """The pods ``service`` selects; None for a Service without a selector (user-managed).

    An empty selector is no selector: the API drops an empty map, as Go's
    ``omitempty`` does upstream.
    """
    selector = (service.get("spec") or {}).get("selector")
    return selector_from_set(selector) if selector else None


def is_external_name(service: Object) -> bool:
    """ExternalName Services get no endpoints from either controller (upstream issue 105986)."""
    return (service.get("spec") or {}).get("type") == "ExternalName"


def is_headless(service: Object) -> bool:
    """``clusterIP: None``: upstream's ``!IsServiceIPSet`` for a Service with a selector.

    Upstream also counts an unset cluster IP, which never lasts there (the
    allocator fills it). This API server allocates none, so an unset one
    stands for "not headless", as it would be once allocated.
    """
    return (service.get("spec") or {}).get("clusterIP") == "None"


def service_ip_families(service: Object) -> list[str]:
    """``spec.ipFamilies``; else the cluster IP's family; else IPv4, the cluster's only one."""
    spec = service.get("spec") or {}
    if spec.get("ipFamilies"):
        return list(spec["ipFamilies"])
    cluster_ip = spec.get("clusterIP") or ""
    return ["IPv6" if cluster_ip != "None" and is_ipv6(cluster_ip) else "IPv4"]


def publishes_not_ready(service: Object) -> bool:
    return bool((service.get("spec") or {}).get("publishNotReadyAddresses"))


def selected_pods(service: Object, pods: Lister) -> list[Object]:
    """The pods of the Service's namespace that its selector matches (none without one)."""
    selector = service_selector(service)
    if selector is None:
        return []
    return pods.list(service["metadata"]["namespace"], selector)


def services_of_pod(services: Lister, namespace: str, labels: dict[str, str] | None) -> set[str]:
    """Keys of the Services in ``namespace`` whose selector matches ``labels``."""
    keys: set[str] = set()
    for service in services.list(namespace):
        selector = service_selector(service)
        if selector is not None and selector.matches(labels or {}):
            keys.add(object_key(service))
    return keys


# --- Pods --------------------------------------------------------------------------


def is_terminating(pod: Object) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_ips(pod: Object) -> list[str]:
    """``status.podIPs``, else ``status.podIP``: the primary first."""
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def should_pod_be_in_endpoints(pod: Object, include_terminating: bool) -> bool:
    """Upstream's ShouldPodBeInEndpoints: not finished, has an IP, not going unless allowed."""
    if is_terminal(pod):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not is_terminating(pod)


def should_set_hostname(pod: Object, service: Object) -> bool:
    """A pod with a hostname in the Service's subdomain is known by that name."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"]


def pod_reference(pod: Object) -> Object:
    """The ``targetRef`` of an endpoint backed by ``pod`` (no resourceVersion, as upstream)."""
    metadata = pod["metadata"]
    return {
        "kind": "Pod",
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "uid": metadata["uid"],
    }


def find_port(pod: Object, service_port: Object) -> int | None:
    """The pod port ``service_port`` sends to (upstream's FindPort), or None.

    A numeric ``targetPort`` is the port itself; a name is looked up among
    the container ports of the same protocol, then among sidecars' (init
    containers with ``restartPolicy: Always``).
    """
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [
        container
        for container in spec.get("initContainers") or []
        if container.get("restartPolicy") == "Always"
    ]
    for container in [*(spec.get("containers") or []), *sidecars]:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return port.get("containerPort")
    return None


def _endpoint_view(pod: Object) -> tuple[Any, ...]:
    """What of a pod its endpoints show: a change elsewhere touches no Service."""
    spec = pod.get("spec") or {}
    return (
        is_terminating(pod),
        is_ready(pod),
        is_terminal(pod),
        tuple(pod_ips(pod)),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
    )


def services_to_update_on_pod_change(services: Lister, old: Object, new: Object) -> set[str]:
    """The Services a pod update concerns (upstream's GetServicesToUpdateOnPodChange).

    Labels changed: the Services of the old labels and of the new ones (the
    pod leaves some, joins others). Otherwise the new labels' Services, and
    only if something an endpoint shows changed.
    """
    namespace = new["metadata"]["namespace"]
    old_labels = old["metadata"].get("labels") or {}
    new_labels = new["metadata"].get("labels") or {}
    if old_labels != new_labels:
        return services_of_pod(services, namespace, old_labels) | services_of_pod(
            services, namespace, new_labels
        )
    if _endpoint_view(old) != _endpoint_view(new):
        return services_of_pod(services, namespace, new_labels)
    return set()


class DelayedQueue(Protocol):
    def add_after(self, key: str, delay: float) -> None: ...


def pod_handler(services: Lister, queue: DelayedQueue, batch_period: float) -> EventHandler:
    """Pod informer handlers queueing each Service a pod change concerns.

    A Service is synced ``batch_period`` seconds after the first pod change
    (the ``--endpoint(slice)-updates-batch-period`` flags), so changes to
    many pods coming together make one write; 0 syncs at once.
    """

    def enqueue(keys: Iterable[str]) -> None:
        for key in keys:
            queue.add_after(key, batch_period)

    def added_or_deleted(pod: Object) -> None:
        metadata = pod["metadata"]
        enqueue(services_of_pod(services, metadata["namespace"], metadata.get("labels")))

    def updated(old: Object, new: Object) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return  # a resync: nothing changed
        enqueue(services_to_update_on_pod_change(services, old, new))

    return EventHandler(on_add=added_or_deleted, on_update=updated, on_delete=added_or_deleted)


# --- Trigger times ----------------------------------------------------------------


def trigger_time_text(moment: datetime) -> str:
    """The annotation's value: RFC 3339 in UTC (the times it takes have whole seconds)."""
    return timestamp(moment)


def _pod_trigger_time(pod: Object) -> datetime | None:
    """The last transition of the pod's Ready condition, either way."""
    condition = ready_condition(pod)
    return parse_timestamp(condition.get("lastTransitionTime") or "") if condition else None


@dataclass
class _ServiceState:
    service_time: datetime | None = None
    pod_times: dict[str, datetime] = field(default_factory=dict)


class TriggerTimeTracker:
    """Upstream's TriggerTimeTracker: when did the change a sync reflects happen?

    For a Service seen for the first time: its creation. Afterwards: the
    earliest of the pod Ready transitions (and the Service creation) that
    are newer than at the previous sync of that Service; None when nothing
    moved (the annotation is then removed). One tracker per controller;
    a key is synced by one worker at a time, so no locking is needed.
    """

    def __init__(self) -> None:
        self._states: dict[str, _ServiceState] = {}

    def compute(self, service: Object, pods: Iterable[Object]) -> datetime | None:
        key = object_key(service)
        previous = self._states.get(key)
        state = _ServiceState(
            service_time=parse_timestamp(service["metadata"].get("creationTimestamp") or "")
        )
        changed: list[datetime] = []
        known = previous or _ServiceState()
        for pod in pods:
            moment = _pod_trigger_time(pod)
            if moment is None:
                continue
            name = pod["metadata"]["name"]
            state.pod_times[name] = moment
            before = known.pod_times.get(name)
            if before is None or moment > before:
                changed.append(moment)
        if state.service_time is not None and (
            known.service_time is None or state.service_time > known.service_time
        ):
            changed.append(state.service_time)
        self._states[key] = state
        if previous is None:
            return state.service_time
        return min(changed, default=None)

    def forget(self, service_key: str) -> None:
        """The Service is gone."""
        self._states.pop(service_key, None)
