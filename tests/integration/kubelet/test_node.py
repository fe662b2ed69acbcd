"""The kubelet's Node through the real API server: registration, status, Lease, kubectl."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynetes.api.meta import parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.host import HostUsage, read_usage
from pynetes.kubelet.nodestatus import LEASES, NODES, NodeStatusReporter
from tests.integration.conftest import Cluster

Object = dict[str, Any]
#: How long a condition may take to come true before the test fails (a hang guard only).
GUARD = 60.0
EVENTS = built_in("", "v1", "events")
T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(GUARD):
        while not await check():  # noqa: ASYNC110 - the server is what changes
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(reporter: NodeStatusReporter) -> AsyncIterator[None]:
    task = asyncio.create_task(reporter.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def conditions(node: Object) -> dict[str, Object]:
    return {condition["type"]: condition for condition in node["status"]["conditions"]}


async def node_events(api: ApiClient, node: str) -> list[tuple[str, str]]:
    events = (await api.list(EVENTS, namespace="default"))["items"]
    return [
        (event["type"], event["reason"])
        for event in events
        if event["involvedObject"].get("kind") == "Node"
        and event["involvedObject"].get("name") == node
    ]


async def test_the_node_registers_ready_with_the_hosts_facts_and_kubectl_shows_it(
    cluster: Cluster, api: ApiClient
) -> None:
    config = KubeletConfiguration(
        node_status_update_frequency=0.1,
        system_reserved={"cpu": "100m"},
        register_with_taints=({"key": "dedicated", "value": "infra", "effect": "NoSchedule"},),
        pod_cidr="10.244.1.0/24",
    )
    reporter = NodeStatusReporter(api, config, "node-a", "127.0.0.1")
    async with running(reporter):
        await asyncio.wait_for(reporter.registered.wait(), GUARD)
        await until(lambda: lease_exists(api, "node-a"))
        node = await api.get(NODES, "node-a")
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == "node-a"
        assert labels["kubernetes.io/os"] == labels["beta.kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] in ("amd64", "arm64")
        status = node["status"]
        cpus = os.cpu_count() or 1
        assert status["capacity"]["cpu"] == str(cpus)
        assert status["capacity"]["pods"] == "110"
        assert status["allocatable"]["cpu"] == f"{cpus * 1000 - 100}m"
        assert status["capacity"]["memory"].endswith("Ki")
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
        assert status["addresses"] == [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": "node-a"},
        ]
        assert status["nodeInfo"]["kubeletVersion"] == "v1.31.0"
        assert status["nodeInfo"]["containerRuntimeVersion"] == "pynetes-process://0.1.0"
        assert list(conditions(node)) == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        assert conditions(node)["Ready"]["reason"] == "KubeletReady"
        assert node["spec"]["taints"] == [
            {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}
        ]
        assert node["spec"]["podCIDRs"] == ["10.244.1.0/24"]

        lease = await api.get(LEASES, "node-a", namespace="kube-node-lease")
        assert lease["spec"]["holderIdentity"] == "node-a"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

        _, out, _ = await cluster.kubectl("1.31")("get", "node", "node-a", "-o", "wide")
    header, row = out.splitlines()
    assert header.split()[:7] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                                  "EXTERNAL-IP"]  # fmt: skip
    assert row.split()[:2] == ["node-a", "Ready"]
    assert row.split()[4:7] == ["v1.31.0", "127.0.0.1", "<none>"]
    assert status["nodeInfo"]["osImage"] in row
    assert status["nodeInfo"]["kernelVersion"] in row
    assert row.rstrip().endswith("pynetes-process://0.1.0")


async def test_the_lease_is_renewed_with_the_clocks_time(api: ApiClient) -> None:
    clock = ManualClock()
    reporter = NodeStatusReporter(api, KubeletConfiguration(), "node-b", clock=clock)
    await reporter.register()
    first = await reporter.renew_lease()
    clock.advance(10)
    await reporter.renew_lease()
    lease = await api.get(LEASES, "node-b", namespace="kube-node-lease")
    renewed = parse_timestamp(lease["spec"]["renewTime"])
    assert renewed == T0 + timedelta(seconds=10)
    assert lease["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]

    # someone else updated it meanwhile: the renewal reads it again and still lands
    await api.patch(LEASES, "node-b", {"metadata": {"labels": {"x": "y"}}},
                    namespace="kube-node-lease")  # fmt: skip
    clock.advance(10)
    await reporter.renew_lease()
    lease = await api.get(LEASES, "node-b", namespace="kube-node-lease")
    assert parse_timestamp(lease["spec"]["renewTime"]) == T0 + timedelta(seconds=20)


async def lease_exists(api: ApiClient, name: str) -> bool:
    leases = await api.list(LEASES, namespace="kube-node-lease")
    return any(item["metadata"]["name"] == name for item in leases["items"])


async def test_the_lease_is_renewed_while_running(api: ApiClient) -> None:
    """nodeLeaseDurationSeconds 1: renewed every 0.25 s."""
    reporter = NodeStatusReporter(api, KubeletConfiguration(node_lease_duration_seconds=1), "n")
    async with running(reporter):
        await until(lambda: lease_exists(api, "n"))
        first = await api.get(LEASES, "n", namespace="kube-node-lease")

        async def renewed() -> bool:
            lease = await api.get(LEASES, "n", namespace="kube-node-lease")
            return lease["spec"]["renewTime"] != first["spec"]["renewTime"]

        await until(renewed)


async def test_status_is_written_on_change_and_when_the_report_is_due(api: ApiClient) -> None:
    clock = ManualClock()
    usage = [read_usage("/")]
    async with EventRecorder(api, "kubelet", reporting_instance="node-d") as recorder:
        reporter = NodeStatusReporter(
            api, KubeletConfiguration(), "node-d", clock=clock,
            read_usage=lambda _root: usage[0], recorder=recorder,
        )  # fmt: skip
        await reporter.register()
        clock.advance(10)
        assert await reporter.update_status() is False  # nothing changed, report not due

        low: HostUsage = dataclasses.replace(usage[0], memory_available_bytes=1024)
        usage[0] = low
        clock.advance(10)
        assert await reporter.update_status() is True
        pressure = conditions(await api.get(NODES, "node-d"))["MemoryPressure"]
        assert (pressure["status"], pressure["reason"]) == ("True", "KubeletHasInsufficientMemory")
        assert parse_timestamp(pressure["lastTransitionTime"]) == T0 + timedelta(seconds=20)

        clock.advance(10)
        assert await reporter.update_status() is False
        clock.advance(300)
        assert await reporter.update_status() is True  # nodeStatusReportFrequency passed
        node = await api.get(NODES, "node-d")
        ready = conditions(node)["Ready"]
        assert parse_timestamp(ready["lastHeartbeatTime"]) == T0 + timedelta(seconds=330)
        assert parse_timestamp(ready["lastTransitionTime"]) == T0
        await recorder.flush()
    events = await node_events(api, "node-d")
    assert ("Normal", "NodeReady") in events
    assert ("Normal", "NodeHasInsufficientMemory") in events


async def test_an_existing_node_is_reconciled_not_replaced(api: ApiClient) -> None:
    await api.create(
        NODES,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "node-e",
                "labels": {"kubernetes.io/os": "plan9", "team": "blue"},
            },
        },
    )
    before = await api.get(NODES, "node-e")
    reporter = NodeStatusReporter(api, KubeletConfiguration(), "node-e")
    await reporter.register()
    node = await api.get(NODES, "node-e")
    assert node["metadata"]["uid"] == before["metadata"]["uid"] == reporter.node_uid
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert node["metadata"]["labels"]["team"] == "blue"
    assert conditions(node)["Ready"]["status"] == "True"
