"""The node IPAM controller against the real API server."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from tests.integration.controllers.harness import eventually, running_controllers

NODES = built_in("", "v1", "nodes")
EVENTS = built_in("", "v1", "events")
Object = dict[str, Any]


def node(name: str, pod_cidr: str = "") -> Object:
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    return {"metadata": {"name": name}, "spec": spec}


async def pod_cidr_of(api: ApiClient, name: str) -> str:
    found = await api.get(NODES, name)
    spec = found.get("spec") or {}
    if spec.get("podCIDR"):
        assert spec["podCIDRs"] == [spec["podCIDR"]]
    return spec.get("podCIDR", "")


async def test_each_node_gets_a_block_of_its_own_and_a_deleted_nodes_block_is_reused(
    api: ApiClient,
) -> None:
    # A /23 holds two /24s; one of them is taken by a node that has it already.
    await api.create(NODES, node("has-one", "10.250.1.0/24"))
    await api.create(NODES, node("first"))
    async with running_controllers(
        api, "nodeipam", allocate_node_cidrs=True, cluster_cidr="10.250.0.0/23"
    ):
        assert await eventually(lambda: pod_cidr_of(api, "first")) == "10.250.0.0/24"
        assert await pod_cidr_of(api, "has-one") == "10.250.1.0/24"

        await api.create(NODES, node("second"))

        async def range_full() -> Object | None:
            listed = await api.list(EVENTS, namespace="default")
            return next(
                (
                    e
                    for e in listed["items"]
                    if e["reason"] == "CIDRNotAvailable" and e["involvedObject"]["name"] == "second"
                ),
                None,
            )

        event = await eventually(range_full)
        assert event["message"] == "Node second status is now: CIDRNotAvailable"
        assert await pod_cidr_of(api, "second") == ""

        await api.delete(NODES, "first")
        assert await eventually(lambda: pod_cidr_of(api, "second")) == "10.250.0.0/24"
