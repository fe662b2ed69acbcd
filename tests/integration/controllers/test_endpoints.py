"""The endpoint controller against the real API server."""

from __future__ import annotations

import asyncio
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, generate_node_specs
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, recorded_updates, running_controllers
from tests.integration.controllers.kubelet import (
    PODS,
    SERVICES,
    container,
    pod,
    port,
    report,
    run_pod,
    service,
)

Object = dict[str, Any]
ENDPOINTS = built_in("", "v1", "endpoints")
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


async def endpoints(api: ApiClient, name: str) -> Object | None:
    try:
        return await api.get(ENDPOINTS, name, namespace="default")
    except errors.NotFound:
        return None


def ips(found: Object | None, field: str = "addresses") -> set[str]:
    """The IPs listed under ``field`` across every subset."""
    return {
        address["ip"]
        for subset in (found or {}).get("subsets") or []
        for address in subset.get(field) or []
    }


async def addresses_become(
    api: ApiClient, name: str, ready: set[str], not_ready: set[str] = frozenset()
) -> Object:
    async def check() -> Object | None:
        found = await endpoints(api, name)
        if found and ips(found) == ready and ips(found, "notReadyAddresses") == not_ready:
            return found
        return None

    return await eventually(check)


def meaningful(old: Object, new: Object) -> bool:
    """An update changed what the controller compares: subsets, labels or capacity."""
    over = "endpoints.kubernetes.io/over-capacity"
    return (
        old.get("subsets") != new.get("subsets")
        or old["metadata"].get("labels") != new["metadata"].get("labels")
        or (old["metadata"].get("annotations") or {}).get(over)
        != (new["metadata"].get("annotations") or {}).get(over)
    )


async def test_addresses_follow_readiness_labels_and_deletion(api: ApiClient) -> None:
    await run_pod(api, pod("web-0", {"app": "web"}), "10.0.0.1")
    await run_pod(api, pod("web-1", {"app": "web"}), "10.0.0.2", ready=False)
    await run_pod(api, pod("other", {"app": "other"}), "10.0.0.3")
    await api.create(SERVICES, service("web", {"app": "web"}, port(80, 8080, "http")))
    async with recorded_updates(api, ENDPOINTS) as updates, running_controllers(api, "endpoint"):
        found = await addresses_become(api, "web", {"10.0.0.1"}, {"10.0.0.2"})
        web_0 = await api.get(PODS, "web-0", namespace="default")
        [subset] = found["subsets"]
        assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert subset["addresses"] == [
            {
                "ip": "10.0.0.1",
                "nodeName": "node-a",
                "targetRef": {
                    "kind": "Pod",
                    "namespace": "default",
                    "name": "web-0",
                    "uid": web_0["metadata"]["uid"],
                },
            }
        ]
        assert TRIGGER_TIME in found["metadata"]["annotations"]
        assert "service.kubernetes.io/headless" not in (found["metadata"].get("labels") or {})

        await report(api, "web-1", "10.0.0.2")
        await addresses_become(api, "web", {"10.0.0.1", "10.0.0.2"})
        await report(api, "web-0", "10.0.0.1", ready=False)
        await addresses_become(api, "web", {"10.0.0.2"}, {"10.0.0.1"})

        # an annotation is nothing an endpoint shows; the next real change is still seen
        await api.patch(PODS, "web-1", {"metadata": {"annotations": {"note": "x"}}})
        await api.patch(PODS, "other", {"metadata": {"labels": {"app": "web"}}})
        await addresses_become(api, "web", {"10.0.0.2", "10.0.0.3"}, {"10.0.0.1"})
        await api.patch(PODS, "web-1", {"metadata": {"labels": {"app": "gone"}}})
        await addresses_become(api, "web", {"10.0.0.3"}, {"10.0.0.1"})

        await api.delete(PODS, "web-0", namespace="default", grace_period_seconds=0)
        await addresses_become(api, "web", {"10.0.0.3"})
        # the Service's own changes: another selector, new labels
        await api.patch(
            SERVICES,
            "web",
            {"metadata": {"labels": {"tier": "front"}}, "spec": {"selector": {"app": "gone"}}},
        )
        moved = await addresses_become(api, "web", {"10.0.0.2"})
        assert moved["metadata"]["labels"] == {"tier": "front"}
    assert updates, "the Endpoints were updated in place"
    assert all(meaningful(old, new) for old, new in updates), "an update changed nothing"


async def test_named_target_ports_resolve_per_pod(api: ApiClient) -> None:
    def serving_at(number: int) -> Object:
        return container({"name": "http", "containerPort": number, "protocol": "TCP"})

    await run_pod(api, pod("a", {"app": "web"}, containers=[serving_at(8080)]), "10.0.0.1")
    await run_pod(api, pod("b", {"app": "web"}, containers=[serving_at(9090)]), "10.0.0.2")
    await run_pod(api, pod("c", {"app": "web"}), "10.0.0.3")  # no port named http
    await api.create(SERVICES, service("web", {"app": "web"}, port(80, "http")))
    # pod changes gathered for a (short) batch period still arrive
    async with running_controllers(api, "endpoint", endpoint_updates_batch_period=0.05):
        found = await addresses_become(api, "web", {"10.0.0.1", "10.0.0.2"})
        by_port = {
            subset["ports"][0]["port"]: [address["ip"] for address in subset["addresses"]]
            for subset in found["subsets"]
        }
        assert by_port == {8080: ["10.0.0.1"], 9090: ["10.0.0.2"]}
        await report(api, "b", "10.0.0.2", ready=False)
        await addresses_become(api, "web", {"10.0.0.1"}, {"10.0.0.2"})


async def test_headless_service_publishing_not_ready_and_terminating_pods(api: ApiClient) -> None:
    await run_pod(api, pod("ready", {"app": "db"}), "10.0.0.1")
    await run_pod(api, pod("starting", {"app": "db"}), "10.0.0.2", ready=False)
    going = pod("going", {"app": "db"})
    going["metadata"]["finalizers"] = ["example.com/hold"]
    await run_pod(api, going, "10.0.0.3")
    await api.delete(PODS, "going", namespace="default")  # held by its finalizer: terminating
    await api.create(SERVICES, service("db", {"app": "db"}, clusterIP="None"))
    await api.create(
        SERVICES,
        service("db-all", {"app": "db"}, clusterIP="None", publishNotReadyAddresses=True),
    )
    async with running_controllers(api, "endpoint"):
        plain = await addresses_become(api, "db", {"10.0.0.1"}, {"10.0.0.2"})
        everyone = await addresses_become(api, "db-all", {"10.0.0.1", "10.0.0.2", "10.0.0.3"})
    for found in (plain, everyone):
        assert found["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
        assert all("ports" not in subset for subset in found["subsets"])
    await api.patch(PODS, "going", {"metadata": {"finalizers": None}})


async def test_user_managed_endpoints_are_left_alone_and_services_take_theirs_along(
    api: ApiClient, cluster: Cluster
) -> None:
    manual = {
        "metadata": {"name": "external", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 443}]}],
    }
    await api.create(SERVICES, service("external", None, port(443)))
    await api.create(ENDPOINTS, manual)
    await api.create(ENDPOINTS, {"metadata": {"name": "ghost", "namespace": "default"}})
    await run_pod(api, pod("web-0", {"app": "web"}), "10.0.0.1")
    await api.create(SERVICES, service("web", {"app": "web"}, port(80)))
    async with running_controllers(api, "endpoint"):
        await addresses_become(api, "web", {"10.0.0.1"})
        # Endpoints whose Service went while no controller ran are cleaned up at start
        await eventually(lambda: absent(api, "ghost"))
        _, out, _ = await cluster.kubectl()("get", "endpoints", "web", "external")
        assert "10.0.0.1:80" in out and "192.0.2.10:443" in out

        await api.delete(ENDPOINTS, "web", namespace="default")
        await addresses_become(api, "web", {"10.0.0.1"})  # made again
        await api.delete(SERVICES, "web", namespace="default")
        await eventually(lambda: absent(api, "web"))
    assert ips(await endpoints(api, "external")) == {"192.0.2.10"}


async def absent(api: ApiClient, name: str) -> bool:
    return await endpoints(api, name) is None


async def test_past_a_thousand_addresses_the_list_is_truncated_and_says_so(
    api: ApiClient,
) -> None:
    """Pods bound to hollow nodes, which report them running and ready."""
    over = "endpoints.kubernetes.io/over-capacity"
    await api.create(SERVICES, service("big", {"app": "big"}, port(80)))
    async with HollowNodes(api, generate_node_specs(2)) as nodes:
        await nodes.ready()
        for start in range(0, 1002, 50):
            await asyncio.gather(
                *(
                    api.create(PODS, pod(f"big-{i}", {"app": "big"}, node=f"hollow-{i % 2}"))
                    for i in range(start, min(start + 50, 1002))
                )
            )
        await eventually(lambda: running(api, 1002))
        async with (
            recorded_updates(api, ENDPOINTS) as updates,
            running_controllers(api, "endpoint"),
        ):
            found = await eventually(lambda: endpoints(api, "big"))
            assert found["metadata"]["annotations"][over] == "truncated"
            assert len(ips(found)) == 1000
            for name in ("big-0", "big-1", "big-2"):
                await api.delete(PODS, name, namespace="default", grace_period_seconds=0)
            await eventually(lambda: running(api, 999))
            fits = await addresses_become(api, "big", await pod_ips(api))
            assert over not in fits["metadata"]["annotations"]
    assert all(meaningful(old, new) for old, new in updates), "an update changed nothing"


async def pod_ips(api: ApiClient) -> set[str]:
    pods = (await api.list(PODS, namespace="default"))["items"]
    return {p["status"]["podIP"] for p in pods if (p.get("status") or {}).get("podIP")}


async def running(api: ApiClient, count: int) -> bool:
    return len(await pod_ips(api)) == count
