"""Hollow nodes against the real API server: registration, Leases, pods, restarts, kubectl."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pynetes.api.meta import parse_timestamp
from pynetes.client import errors
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, NodeSpec, Taint, generate_node_specs
from pynetes.hollow.runner import LEASES, NODES, PODS
from tests.integration.conftest import Cluster, Restartable

Object = dict[str, Any]
#: How long a condition may take to come true before the test fails (a hang guard only).
GUARD = 60.0
#: Short enough that renewals are seen within a test.
FAST_LEASES = 0.2
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until it holds: the runner's writes land on its own tasks."""
    async with asyncio.timeout(GUARD):
        while not await check():  # noqa: ASYNC110 - the server is what changes
            await asyncio.sleep(0.05)


async def lease(api: ApiClient, name: str) -> Object:
    return await api.get(LEASES, name, namespace="kube-node-lease")


async def renewed_after(api: ApiClient, name: str, renew_time: str) -> None:
    before = parse_timestamp(renew_time)

    async def later() -> bool:
        renewed = parse_timestamp((await lease(api, name))["spec"]["renewTime"])
        return renewed is not None and before is not None and renewed > before

    await until(later)


async def bind(api: ApiClient, name: str, node: str) -> None:
    await api.create(
        PODS,
        {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        namespace="default",
    )
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}}
    binding["target"] = {"apiVersion": "v1", "kind": "Node", "name": node}
    await api.request("POST", f"/api/v1/namespaces/default/pods/{name}/binding", body=binding)


async def running(api: ApiClient, name: str) -> Object:
    async def ready() -> bool:
        status = (await api.get(PODS, name, namespace="default")).get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        return status.get("phase") == "Running" and conditions.get("Ready") == "True"

    await until(ready)
    return await api.get(PODS, name, namespace="default")


async def test_nodes_register_as_specified_and_kubectl_shows_them(
    cluster: Cluster, api: ApiClient
) -> None:
    taint = Taint("dedicated", "NoSchedule", "hollow")
    specs = generate_node_specs(3, zones=["a", "b"], labels={"tier": "bench"}, taints=[taint])
    specs.append(NodeSpec("cordoned", unschedulable=True, extended={"example.com/gpu": "2"}))
    async with HollowNodes(api, specs) as nodes:
        await nodes.ready()
        listed = {node["metadata"]["name"]: node for node in (await api.list(NODES))["items"]}
        assert set(listed) == {"hollow-0", "hollow-1", "hollow-2", "cordoned"}
        first = listed["hollow-0"]
        assert first["metadata"]["labels"]["topology.kubernetes.io/zone"] == "a"
        assert listed["hollow-1"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "b"
        assert first["metadata"]["labels"]["tier"] == "bench"
        assert first["metadata"]["labels"]["kubernetes.io/hostname"] == "hollow-0"
        assert first["spec"]["taints"] == [taint.to_dict()]
        assert first["status"]["capacity"]["cpu"] == "4"
        assert first["status"]["allocatable"] == first["status"]["capacity"]
        ready = next(c for c in first["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
        assert listed["cordoned"]["spec"]["unschedulable"] is True
        assert listed["cordoned"]["status"]["capacity"]["example.com/gpu"] == "2"

        _, out, _ = await cluster.kubectl("1.31")("get", "nodes", "-o", "wide")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["hollow-0"][1] == "Ready"
    assert rows["cordoned"][1] == "Ready,SchedulingDisabled"
    assert "v1.31.0-pynetes-hollow" in rows["hollow-0"]
    assert "127.1.0.1" in rows["hollow-0"]


async def test_leases_are_created_owned_and_renewed(api: ApiClient) -> None:
    async with HollowNodes(api, generate_node_specs(2), lease_period=FAST_LEASES) as nodes:
        await nodes.ready()
        node = await api.get(NODES, "hollow-1")
        held = await lease(api, "hollow-1")
        assert held["spec"]["holderIdentity"] == "hollow-1"
        assert held["spec"]["leaseDurationSeconds"] == 40
        (owner,) = held["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Node",
            "hollow-1",
            node["metadata"]["uid"],
        )
        await renewed_after(api, "hollow-1", held["spec"]["renewTime"])


async def test_a_bound_pod_runs_and_a_deleted_one_goes(api: ApiClient) -> None:
    async with HollowNodes(api, generate_node_specs(2)) as nodes:
        await nodes.ready()
        await bind(api, "web", "hollow-1")
        await bind(api, "elsewhere", "real-node")
        pod = await running(api, "web")
        status = pod["status"]
        assert status["hostIP"] == "127.1.0.2"
        assert status["podIP"].startswith("10.")
        (container,) = status["containerStatuses"]
        assert container["ready"] and "running" in container["state"]
        other = await api.get(PODS, "elsewhere", namespace="default")
        assert other["status"]["phase"] == "Pending"  # not bound to a hollow node

        deleting = await api.delete(PODS, "web", namespace="default")
        assert deleting["metadata"]["deletionTimestamp"]  # graceful: the kubelet finishes it

        async def gone() -> bool:
            try:
                await api.get(PODS, "web", namespace="default")
            except errors.NotFound:
                return True
            return False

        await until(gone)
        assert nodes.pods_deleted == 1


async def ready_status(api: ApiClient, name: str) -> str:
    node = await api.get(NODES, name)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    return ready[0]["status"]


async def test_a_node_marked_unknown_by_someone_else_reports_ready_again(api: ApiClient) -> None:
    """As a kubelet compares what it would post with the Node the API holds."""
    async with HollowNodes(api, generate_node_specs(1)) as nodes:
        await nodes.ready()
        unknown = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}
        patch = {"status": {"conditions": [unknown]}}
        await api.patch(NODES, "hollow-0", patch, patch_type="strategic", subresource="status")

        async def ready_again() -> bool:
            return await ready_status(api, "hollow-0") == "True"

        await until(ready_again)
        nodes.set_ready("hollow-0", False)

        async def not_ready() -> bool:
            return await ready_status(api, "hollow-0") == "False"

        await until(not_ready)


async def test_a_restarted_runner_adopts_its_nodes(api: ApiClient) -> None:
    specs = generate_node_specs(3)
    async with HollowNodes(api, specs) as nodes:
        await nodes.ready()
        await bind(api, "web", "hollow-0")
        await running(api, "web")
    node_uid = (await api.get(NODES, "hollow-2"))["metadata"]["uid"]
    old_lease = await lease(api, "hollow-2")

    async with HollowNodes(api, specs, lease_period=FAST_LEASES) as again:
        await again.ready()
        assert (await api.get(NODES, "hollow-2"))["metadata"]["uid"] == node_uid
        assert (await lease(api, "hollow-2"))["metadata"]["uid"] == old_lease["metadata"]["uid"]
        await renewed_after(api, "hollow-2", old_lease["spec"]["renewTime"])
        assert again.pods_started == 0  # the running pod was left as it was
        await bind(api, "api", "hollow-2")
        pod = await running(api, "api")
    web = await api.get(PODS, "web", namespace="default")
    assert pod["status"]["podIP"] != web["status"]["podIP"]


async def test_the_runner_rides_out_an_api_server_restart(restartable: Restartable) -> None:
    async with ApiClient(restartable.client_config()) as api:
        nodes = HollowNodes(api, generate_node_specs(3), lease_period=FAST_LEASES)
        async with nodes:
            await nodes.ready()
            await restartable.restart()
            seen_after_restart = (await lease(api, "hollow-0"))["spec"]["renewTime"]
            await renewed_after(api, "hollow-0", seen_after_restart)
            await bind(api, "after", "hollow-2")
            await running(api, "after")


async def hollow_nodes_command(cluster: Cluster, *arguments: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pynetes", "hollow-nodes", "--kubeconfig", str(cluster.kubeconfig),
        *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )  # fmt: skip


async def test_the_command_runs_nodes_until_sigterm(cluster: Cluster, api: ApiClient) -> None:
    process = await hollow_nodes_command(
        cluster, "--count", "2", "--name-prefix", "cli-", "--zones", "z1",
        "--labels", "team=infra", "--taints", "gpu=yes:NoSchedule", "--memory", "8Gi",
    )  # fmt: skip
    try:

        async def both() -> bool:
            listed = await api.list(NODES, label_selector="team=infra")
            return len(listed["items"]) == 2

        await until(both)
        node = await api.get(NODES, "cli-1")
        assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "z1"
        assert node["spec"]["taints"] == [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
        assert node["status"]["capacity"]["memory"] == "8Gi"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(GUARD):
            output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


async def test_the_command_refuses_a_bad_taint(cluster: Cluster) -> None:
    process = await hollow_nodes_command(cluster, "--count", "1", "--taints", "gpu=yes:Never")
    async with asyncio.timeout(GUARD):
        output, _ = await process.communicate()
    assert process.returncode == 2
    assert b"must end in" in output
