"""The endpointslice controller against the real API server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, generate_node_specs
from pynetes.scheduler.config import SchedulerConfiguration
from pynetes.scheduler.scheduler import Scheduler
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, recorded_updates, running_controllers
from tests.integration.controllers.kubelet import (
    NODES,
    PODS,
    SERVICES,
    ZONE_LABEL,
    container,
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
ENDPOINTS = built_in("", "v1", "endpoints")
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
    async with recorded_updates(api, SLICES) as updates, running_controllers(api, "endpointslice"):
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
        await slices_become(api, "web", lambda f: zone_of(f, "10.0.0.4") == "zone-c")
        # the Service's labels are the slices' too
        await api.patch(SERVICES, "web", {"metadata": {"labels": {"team": "red"}}})
        final = await slices_become(
            api, "web", lambda f: all(s["metadata"]["labels"]["team"] == "red" for s in managed(f))
        )
        kubectl = cluster.kubectl()
        _, out, _ = await kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web")
        assert "10.0.0.4" in out and "8080" in out and "IPv4" in out
    assert len(managed(final)) == 1
    [untouched] = [s for s in final if s not in managed(final)]
    assert untouched["endpoints"] == FOREIGN["endpoints"]
    assert updates, "the slice was updated in place"
    assert all(meaningful(old, new) for old, new in updates), "an update changed nothing"


def no_duplicates(slices: list[Object]) -> bool:
    counts = Counter(e["targetRef"]["name"] for e in endpoints_in(slices))
    return all(count == 1 for count in counts.values())


async def test_hundreds_of_pods_fill_slices_of_at_most_a_hundred(api: ApiClient) -> None:
    """Pods bound to hollow nodes, which report them running and ready."""
    labels = {"app": "big"}
    await api.create(SERVICES, service("big", labels, port(80)))
    zones = ["a", "b", "c"]
    async with (
        HollowNodes(api, generate_node_specs(3, zones=zones)) as nodes,
        recorded_updates(api, SLICES) as updates,
    ):
        await nodes.ready()
        async with running_controllers(api, "endpointslice"):
            [placeholder] = await slices_become(api, "big", lambda f: len(f) == 1)
            assert not placeholder.get("endpoints")
        # seen all at once, 250 endpoints make two full slices and a half-full one
        await create_pods(
            api, [pod(f"big-{i}", labels, node=f"hollow-{i % 3}") for i in range(250)]
        )
        await eventually(lambda: all_running(api, 250))
        async with running_controllers(api, "endpointslice"):
            full = await slices_become(api, "big", lambda f: ready_count(f) == 250)
            assert sorted(len(s["endpoints"]) for s in full) == [50, 100, 100]
            assert no_duplicates(full)
            assert placeholder["metadata"]["name"] in {s["metadata"]["name"] for s in full}
            assert {e["zone"] for e in endpoints_in(full)} == set(zones)

            for i in range(0, 250, 4):  # a quarter go: the slices shrink in place
                await api.delete(PODS, f"big-{i}", namespace="default", grace_period_seconds=0)
            fewer = await slices_become(api, "big", lambda f: ready_count(f) == 187)
            assert len(fewer) == 3 and no_duplicates(fewer)
            # as many come back while it runs, a batch at a time
            await create_pods(api, [pod(f"more-{i}", labels, node="hollow-0") for i in range(63)])
            refilled = await slices_become(api, "big", lambda f: ready_count(f) == 250)
            assert no_duplicates(refilled)
            assert all(len(s["endpoints"]) <= 100 for s in refilled)
    assert all(meaningful(old, new) for old, new in updates), "an update changed nothing"


async def all_running(api: ApiClient, count: int) -> bool:
    pods = (await api.list(PODS, namespace="default"))["items"]
    return sum(1 for p in pods if (p.get("status") or {}).get("podIP")) == count


def ready_count(slices: list[Object]) -> int:
    return sum(1 for e in endpoints_in(slices) if e["conditions"]["ready"])


async def create_pods(api: ApiClient, pods: list[Object]) -> None:
    for start in range(0, len(pods), 25):
        await asyncio.gather(*(api.create(PODS, body) for body in pods[start : start + 25]))


async def test_named_ports_headless_services_and_pods_on_unknown_nodes(api: ApiClient) -> None:
    def serving_at(number: int) -> Object:
        return container({"name": "http", "containerPort": number, "protocol": "TCP"})

    await create_node(api, "node-a")
    await run_pod(api, pod("a", {"app": "web"}, containers=[serving_at(8080)]), "10.0.0.1")
    await run_pod(api, pod("b", {"app": "web"}, containers=[serving_at(9090)]), "10.0.0.2")
    await run_pod(api, pod("c", {"app": "web"}), "10.0.0.3")  # no port named http
    await run_pod(api, pod("lost", {"app": "web"}, node="node-z"), "10.0.0.4")
    await api.create(SERVICES, service("web", {"app": "web"}, port(80, "http"), clusterIP="None"))
    async with running_controllers(api, "endpointslice", endpointslice_updates_batch_period=0.05):
        found = await slices_become(api, "web", lambda f: len(endpoints_in(f)) == 3)
        assert ips_by_port(found) == {
            (8080,): ["10.0.0.1"],
            (9090,): ["10.0.0.2"],
            (): ["10.0.0.3"],
        }
        for each in found:
            assert each["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
        warning = await eventually(lambda: warning_about(api, "web"))
        assert "Node node-z Not Found" in warning["message"]

        await create_node(api, "node-z")
        found = await slices_become(api, "web", lambda f: len(endpoints_in(f)) == 4)
        assert sorted(ips_by_port(found)[()]) == ["10.0.0.3", "10.0.0.4"]
        # pod changes gathered for a (short) batch period still arrive
        await report(api, "b", "10.0.0.2", ready=False)
        await slices_become(api, "web", lambda f: conditions_by_ip(f)["10.0.0.2"] == NOT_READY)


def ips_by_port(slices: list[Object]) -> dict[tuple[int, ...], list[str]]:
    return {
        tuple(p["port"] for p in s.get("ports") or []): [
            e["addresses"][0] for e in s.get("endpoints") or []
        ]
        for s in slices
    }


async def warning_about(api: ApiClient, service_name: str) -> Object | None:
    events = (await api.list(EVENTS, namespace="default"))["items"]
    return next(
        (
            event
            for event in events
            if event["involvedObject"].get("name") == service_name
            and event["reason"] == "FailedToUpdateEndpointSlices"
        ),
        None,
    )


async def test_an_address_the_api_refuses_is_reported_in_a_warning(
    api: ApiClient,
) -> None:
    """A pod may report a loopback IP; an EndpointSlice may not list one."""
    await create_node(api, "node-a")
    await run_pod(api, pod("odd", {"app": "odd"}), "127.0.0.5")
    await api.create(SERVICES, service("odd", {"app": "odd"}, port(80)))
    async with running_controllers(api, "endpointslice"):
        event = await eventually(lambda: warning_about(api, "odd"))
    assert event["message"].startswith("Error updating Endpoint Slices for Service default/odd: ")
    assert "loopback" in event["message"]
    assert await slices_of(api, "odd") == []


@contextlib.asynccontextmanager
async def scheduling(api: ApiClient) -> AsyncIterator[None]:
    """The real scheduler, binding pods until the block ends."""
    scheduler = Scheduler(api, SchedulerConfiguration(), rng=random.Random(1))
    task = asyncio.create_task(scheduler.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_scheduled_pods_reach_endpoints_and_slices_alike(
    api: ApiClient, cluster: Cluster
) -> None:
    """Unbound pods, the real scheduler, hollow kubelets: what a user of a cluster sees."""
    await api.create(SERVICES, service("app", {"app": "app"}, port(80)))
    async with (
        HollowNodes(api, generate_node_specs(2, zones=["a", "b"])) as nodes,
        scheduling(api),
        running_controllers(api, "endpoint", "endpointslice"),
    ):
        await nodes.ready()
        for i in range(4):
            body = pod(f"app-{i}", {"app": "app"})
            del body["spec"]["nodeName"]
            await api.create(PODS, body)
        found = await slices_become(api, "app", lambda f: ready_count(f) == 4)
        slice_ips = {e["addresses"][0] for e in endpoints_in(found)}
        assert {e["nodeName"] for e in endpoints_in(found)} <= {"hollow-0", "hollow-1"}

        async def endpoints_agree() -> bool:
            kubectl = cluster.kubectl()
            code, out, _ = await kubectl("get", "endpoints", "app", "-o", "json", check=False)
            subsets = (json.loads(out).get("subsets") or []) if code == 0 else []
            return {a["ip"] for s in subsets for a in s.get("addresses") or []} == slice_ips

        await eventually(endpoints_agree)


async def test_deleting_the_service_takes_its_slices_through_the_garbage_collector(
    api: ApiClient, cluster: Cluster
) -> None:
    """Their ownerReferences are right: a foreground deletion of the Service finishes."""
    await create_node(api, "node-a")
    await run_pod(api, pod("web-0", {"app": "web"}), "10.0.0.1")
    await api.create(SERVICES, service("web", {"app": "web"}, port(80)))
    async with running_controllers(api, "endpoint", "endpointslice", "garbagecollector"):
        await slices_become(api, "web", lambda f: ready_count(f) == 1)
        await cluster.kubectl()("delete", "service", "web", "--cascade=foreground")
        await eventually(lambda: no_slices(api, "web"))
        await eventually(lambda: gone(api, SERVICES, "web"))
        await eventually(lambda: gone(api, ENDPOINTS, "web"))


async def no_slices(api: ApiClient, service_name: str) -> bool:
    return not await slices_of(api, service_name)


async def gone(api: ApiClient, resource: Any, name: str) -> bool:
    try:
        await api.get(resource, name, namespace="default")
    except errors.NotFound:
        return True
    return False
