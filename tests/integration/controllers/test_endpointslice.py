"""The endpointslice controller against the real API server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.kubelet import (
    NODES,
    PODS,
    SERVICES,
    ZONE_LABEL,
    create_node,
    pod,
    port,
    report,
    run_pod,
    service,
)

Object = dict[str, Any]
SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
EVENTS = built_in("", "v1", "events")
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


async def slices_of(api: ApiClient, service_name: str) -> list[Object]:
    listed = await api.list(
        SLICES, namespace="default", label_selector=f"kubernetes.io/service-name={service_name}"
    )
    return listed["items"]


def endpoints_in(slices: list[Object]) -> list[Object]:
    return [endpoint for s in slices for endpoint in s.get("endpoints") or []]


def conditions_by_ip(slices: list[Object]) -> dict[str, dict[str, bool]]:
    return {e["addresses"][0]: e.get("conditions") for e in endpoints_in(slices)}


async def slices_become(api: ApiClient, name: str, check: Any) -> list[Object]:
    """Poll the Service's slices until ``check(slices)`` holds."""

    async def poll() -> list[Object] | None:
        found = await slices_of(api, name)
        return found if check(found) else None

    return await eventually(poll)


@contextlib.asynccontextmanager
async def recorded_updates(api: ApiClient) -> AsyncIterator[list[tuple[Object, Object]]]:
    """Every (old, new) update of an EndpointSlice seen while the block runs."""
    updates: list[tuple[Object, Object]] = []
    informer = Informer(api, SLICES)
    informer.add_event_handler(EventHandler(on_update=lambda old, new: updates.append((old, new))))
    informer.start()
    await informer.wait_for_sync()
    try:
        yield updates
    finally:
        await informer.stop()


def meaningful(old: Object, new: Object) -> bool:
    return any(
        old.get(part) != new.get(part) for part in ("endpoints", "ports", "addressType")
    ) or old["metadata"].get("labels") != new["metadata"].get("labels")


READY = {"ready": True, "serving": True, "terminating": False}
NOT_READY = {"ready": False, "serving": False, "terminating": False}
FOREIGN = {
    "metadata": {
        "name": "web-by-hand",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "web", MANAGED_BY: "someone-else"},
    },
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["192.0.2.1"]}],
}


def managed(slices: list[Object]) -> list[Object]:
    return [s for s in slices if s["metadata"]["labels"].get(MANAGED_BY) != "someone-else"]


def zone_of(slices: list[Object], ip: str) -> str | None:
    return next(e.get("zone") for e in endpoints_in(slices) if e["addresses"] == [ip])


async def test_a_slice_follows_its_pods(api: ApiClient, cluster: Cluster) -> None:
    await create_node(api, "node-a", zone="zone-a")
    await create_node(api, "node-b", zone="zone-b")
    await run_pod(api, pod("web-0", {"app": "web"}), "10.0.0.1")
    await run_pod(api, pod("web-1", {"app": "web"}, node="node-b"), "10.0.0.2", ready=False)
    body = service("web", {"app": "web"}, port(80, 8080, "http"))
    body["metadata"]["labels"] = {"team": "blue"}
    svc = await api.create(SERVICES, body)
    await api.create(SLICES, FOREIGN)
    async with recorded_updates(api) as updates, running_controllers(api, "endpointslice"):
        found = await slices_become(
            api,
            "web",
            lambda f: conditions_by_ip(managed(f)) == {"10.0.0.1": READY, "10.0.0.2": NOT_READY},
        )
        [ours] = managed(found)
        metadata = ours["metadata"]
        assert metadata["generateName"] == "web-"
        assert metadata["labels"] == {
            "team": "blue",
            "kubernetes.io/service-name": "web",
            MANAGED_BY: "endpointslice-controller.k8s.io",
        }
        assert metadata["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": "web",
                "uid": svc["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert "endpoints.kubernetes.io/last-change-trigger-time" in metadata["annotations"]
        assert ours["addressType"] == "IPv4"
        assert ours["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        web_0 = next(e for e in ours["endpoints"] if e["addresses"] == ["10.0.0.1"])
        assert web_0["nodeName"] == "node-a" and web_0["zone"] == "zone-a"
        assert web_0["targetRef"]["name"] == "web-0" and web_0["targetRef"]["kind"] == "Pod"

        await report(api, "web-1", "10.0.0.2")
        await slices_become(api, "web", lambda f: conditions_by_ip(f).get("10.0.0.2") == READY)
        going = pod("going", {"app": "web"})
        going["metadata"]["finalizers"] = ["example.com/hold"]
        await run_pod(api, going, "10.0.0.3")
        await api.delete(PODS, "going", namespace="default")
        terminating = {"ready": False, "serving": True, "terminating": True}
        await slices_become(
            api, "web", lambda f: conditions_by_ip(f).get("10.0.0.3") == terminating
        )
        await api.patch(PODS, "going", {"metadata": {"finalizers": None}})
        for gone in ("going", "web-0"):  # as a kubelet does once the containers stopped
            await api.delete(PODS, gone, namespace="default", grace_period_seconds=0)
        await api.patch(PODS, "web-1", {"metadata": {"labels": {"app": "other"}}})
        await run_pod(api, pod("web-2", {"app": "web"}), "10.0.0.4")
        await slices_become(
            api,
            "web",
            lambda f: (
                conditions_by_ip(managed(f)) == {"10.0.0.4": READY}
                and zone_of(f, "10.0.0.4") == "zone-a"
            ),
        )
        # the zone is the node's: relabelling the node moves the endpoint
        await api.patch(NODES, "node-a", {"metadata": {"labels": {ZONE_LABEL: "zone-c"}}})
        final = await slices_become(api, "web", lambda f: zone_of(f, "10.0.0.4") == "zone-c")
        kubectl = cluster.kubectl()
        _, out, _ = await kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web")
        assert "10.0.0.4" in out and "8080" in out and "IPv4" in out
    assert len(managed(final)) == 1
    [untouched] = [s for s in final if s not in managed(final)]
    assert untouched["endpoints"] == FOREIGN["endpoints"]
    assert updates, "the slice was updated in place"
    assert all(meaningful(old, new) for old, new in updates), "an update changed nothing"
