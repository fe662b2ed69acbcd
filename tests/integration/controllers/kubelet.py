"""Pods, Nodes and Services for the endpoint tests, with the status a kubelet would report."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient

Object = dict[str, Any]

PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
SERVICES = built_in("", "v1", "services")
ZONE_LABEL = "topology.kubernetes.io/zone"
#: Ready conditions' transition time: fixed, the controllers only copy it.
SINCE = "2026-01-01T00:00:00Z"


def container(*ports: Object) -> Object:
    return {"name": "app", "image": "app:1", "ports": list(ports)}


def pod(name: str, labels: dict[str, str], *, node: str = "node-a", **spec: Any) -> Object:
    """A pod already bound to ``node``, with one container (``spec`` overrides)."""
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"nodeName": node, "containers": [container()], **spec},
    }


def service(name: str, selector: dict[str, str] | None, *ports: Object, **spec: Any) -> Object:
    body: Object = {"ports": list(ports), **spec}
    if selector is not None:
        body["selector"] = selector
    return {"metadata": {"name": name, "namespace": "default"}, "spec": body}


def port(number: int, target: int | str | None = None, name: str | None = None) -> Object:
    """A Service port (``target`` defaults to ``number``, as the API does)."""
    body: Object = {"port": number, "protocol": "TCP"}
    if target is not None:
        body["targetPort"] = target
    if name is not None:
        body["name"] = name
    return body


async def report(api: ApiClient, name: str, ip: str, *, ready: bool = True) -> Object:
    """Write the status the pod's kubelet would: Running at ``ip``, Ready or not."""
    current = await api.get(PODS, name, namespace="default")
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": SINCE}
        ],
    }
    return await api.replace(PODS, {**current, "status": status}, subresource="status")


async def run_pod(api: ApiClient, body: Object, ip: str, *, ready: bool = True) -> Object:
    """Create the pod and report it running at ``ip``."""
    created = await api.create(PODS, body)
    return await report(api, created["metadata"]["name"], ip, ready=ready)


async def create_node(api: ApiClient, name: str, zone: str | None = None) -> Object:
    labels = {"kubernetes.io/hostname": name} | ({ZONE_LABEL: zone} if zone else {})
    return await api.create(NODES, {"metadata": {"name": name, "labels": labels}})
