"""Pod networking: a real kubelet runs the CNI plugins for each pod (root only).

Everything stays on this machine: the pods' subnet (SUBNET, a private range nothing
else here uses) lives on the bridge BRIDGE that the plugins make, and the only
connections are from the host or a pod to a pod of the test. The fixture removes the
bridge, every namespace, IP allocation and iptables rule the test's sandboxes left
(portmap's shared CNI-HOSTPORT chains too, once no mapping uses them), and restores
``ip_forward`` (the bridge plugin turns it on for its gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import KubeletAgent
from pynetes.kubelet.runtime.interface import RuntimeFailure
from pynetes.kubelet.runtime.process import cni
from pynetes.kubelet.runtime.process.cni import CniOptions
from pynetes.kubelet.volumes.tmpfs import mount_points_under, unmount_all_under
from tests.conftest import require
from tests.integration.conftest import Cluster, free_port
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.kubelet.agent import (
    NODE,
    PODS,
    phase_is,
    pod,
    running_kubelet,
    wait_for_deletion,
    wait_for_event,
    wait_for_pod,
)
from tests.integration.kubelet.test_kubelet_process import kubelet_process, write_config

Object = dict[str, Any]
NODES = built_in("", "v1", "nodes")
SUBNET = "10.250.7.0/24"
BRIDGE = "pyn-cni0"
NETWORK = "pyn-test-net"
PORT = 8080
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
#: A TCP server answering every connection with its host name: the pod's name (a pod
#: with a network of its own has a host name of its own), as its HOSTNAME says.
SERVER = f"""
import os, socket
server = socket.create_server(("0.0.0.0", {PORT}))
assert socket.gethostname() == os.environ["HOSTNAME"]
while True:
    connection, _ = server.accept()
    connection.sendall(socket.gethostname().encode())
    connection.close()
"""
#: Run by exec inside a pod: prints what the server at argv[1]:argv[2] answers.
CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as c:
    print(c.recv(100).decode())
"""


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[CniOptions]:
    """CNI options for a kubelet on ``tmp_path``; afterwards nothing of them is left."""
    options = CniOptions(conf_dir=tmp_path / "cni", bridge=BRIDGE, network=NETWORK)
    require(cni.unavailable(options) is None, "pod networking (root and the CNI plugins)")
    forward = await asyncio.to_thread(IP_FORWARD.read_text)
    try:
        yield options
    finally:
        names = sandbox_netns(tmp_path)
        try:
            runtime = KubeletAgent.runtime_for(tmp_path, cni_options=options)
            for sandbox in await runtime.list_pod_sandboxes():
                with contextlib.suppress(RuntimeFailure):
                    await runtime.remove_pod_sandbox(sandbox.id)
            await runtime.close()
        finally:
            await asyncio.to_thread(_remove_leftovers, forward, names)


def _remove_leftovers(forward: str, namespaces: set[str]) -> None:
    """What a failed test may have left: its namespaces, the bridge, host-local's
    allocations, the plugins' iptables rules; and ip_forward as it was."""
    for name in namespaces:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
    shutil.rmtree(Path("/var/lib/cni/networks") / NETWORK, ignore_errors=True)
    saved = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
    rules = [line for line in saved.stdout.splitlines() if line.startswith("-A ")]
    ours = [line for line in rules if f'name: \\"{NETWORK}\\"' in line]
    hostports_unused = not any(line.startswith("-A CNI-HOSTPORT-DNAT ") for line in rules)
    if hostports_unused:
        ours += [line for line in rules if "CNI-HOSTPORT-" in line]
    for line in ours:
        words = shlex.split(line)
        subprocess.run(["iptables", "-t", "nat", "-D", *words[1:]], capture_output=True)
    chains = {shlex.split(line)[-1] for line in ours if "-j CNI-" in line}
    if hostports_unused:
        declared = saved.stdout.splitlines()
        chains |= {line[1:].split()[0] for line in declared if line.startswith(":CNI-HOSTPORT-")}
    for chain in chains:
        subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True)
    IP_FORWARD.write_text(forward)


def server_pod(name: str, **port: Any) -> Object:
    container = {
        "name": "app",
        "image": "busybox",
        "command": [sys.executable, "-c", SERVER],
        "ports": [{"containerPort": PORT, **port}],
    }
    return pod(name, container)


async def fetch(host: str, port: int) -> str:
    """What the server at host:port answers (retried until it listens)."""

    async def answer() -> str | None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            return None
        try:
            return (await reader.read()).decode()
        finally:
            writer.close()

    return await eventually(answer)


async def from_pod(agent: KubeletAgent, running: Object, host: str, port: int) -> str:
    """What host:port answers to a client exec'd in ``running``'s container."""
    return await exec_in(agent, running, sys.executable, "-c", CLIENT, host, str(port))


async def exec_in(agent: KubeletAgent, running: Object, *command: str) -> str:
    """The output of ``command`` exec'd in ``running``'s container."""
    container_id = running["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    result = await agent.runtime.exec_sync(container_id, list(command), 10)
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode().strip()


def sandbox_netns(root: Path) -> set[str]:
    """The namespaces the runtime on ``root`` recorded for its sandboxes."""
    records = [json.loads(p.read_text()) for p in (root / "runtime" / "sandboxes").glob("*.json")]
    return {record["network"]["netns"] for record in records if "network" in record}


def bridge_ports() -> list[str]:
    """The interfaces (veths) attached to the test's bridge."""
    listed = subprocess.run(
        ["ip", "-o", "link", "show", "master", BRIDGE], capture_output=True, text=True
    )
    return [line for line in listed.stdout.splitlines() if line.strip()]


def allocated_ips() -> list[str]:
    """The addresses host-local holds for the test's network."""
    folder = Path("/var/lib/cni/networks") / NETWORK
    if not folder.exists():
        return []
    return [path.name for path in folder.iterdir() if path.name.count(".") == 3]


def namespaces_left(names: set[str]) -> set[str]:
    return {name for name in names if (cni.NETNS_DIR / name).exists()}


async def test_pods_get_their_own_ips_and_reach_each_other_and_the_node_reaches_them(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    async with running_kubelet(cluster, api, tmp_path, cni=network, pod_cidr=SUBNET) as agent:
        await api.create(PODS, server_pod("alpha"))
        beta_pod = server_pod("beta")
        beta_pod["spec"] |= {
            "subdomain": "web",
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local"]}],
        }
        await api.create(PODS, beta_pod)
        alpha = await wait_for_pod(api, "alpha", phase_is("Running"))
        beta = await wait_for_pod(api, "beta", phase_is("Running"))
        ips = [alpha["status"]["podIP"], beta["status"]["podIP"]]
        assert ips[0] != ips[1]
        assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(SUBNET) for ip in ips)
        assert await fetch(ips[0], PORT) == "alpha"
        assert await fetch(ips[1], PORT) == "beta"
        assert await from_pod(agent, alpha, ips[1], PORT) == "beta"
        assert await from_pod(agent, beta, ips[0], PORT) == "alpha"
        # Each pod has a loopback of its own: exec'd commands run in the pod's namespace.
        assert await from_pod(agent, alpha, "127.0.0.1", PORT) == "alpha"
        assert await exec_in(agent, beta, "hostname") == "beta"
        hosts = await exec_in(agent, beta, "cat", "/etc/hosts")
        assert f"{ips[1]}\tbeta.web.default.svc.cluster.local\tbeta" in hosts.splitlines()
        assert "10.1.2.3\tfoo.local" in hosts.splitlines()
        # port-forward reaches the pod's own network.
        sandboxes = await agent.runtime.list_pod_sandboxes()
        sandbox = next(s for s in sandboxes if s.name == "beta")
        reader, writer = await agent.runtime.port_forward(sandbox.id, PORT)
        assert await reader.read() == b"beta"
        writer.close()
        names = sandbox_netns(tmp_path)
        assert len(names) == 2 and namespaces_left(names) == names
        assert len(bridge_ports()) == 2 and sorted(allocated_ips()) == sorted(ips)

        await api.delete(PODS, "alpha", namespace="default")
        await api.delete(PODS, "beta", namespace="default")
        await wait_for_deletion(api, "alpha")
        await wait_for_deletion(api, "beta")

        async def torn_down() -> bool:
            return not namespaces_left(names) and not bridge_ports() and not allocated_ips()

        await eventually(torn_down)


async def test_a_host_port_reaches_the_pod_through_portmap(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    host_port = free_port()
    async with running_kubelet(cluster, api, tmp_path, cni=network, pod_cidr=SUBNET):
        await api.create(PODS, server_pod("published", hostPort=host_port))
        running = await wait_for_pod(api, "published", phase_is("Running"))
        assert running["status"]["podIP"] != "127.0.0.1"
        assert await fetch("127.0.0.1", host_port) == "published"
        await api.delete(PODS, "published", namespace="default")
        await wait_for_deletion(api, "published")


@pytest.mark.slow
async def test_a_kubelet_killed_9_and_restarted_after_its_pod_was_deleted_cleans_up_its_network(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    await asyncio.to_thread(cni.write_default_conflist, network, SUBNET)
    config, healthz = write_config(tmp_path)
    flags = ("--cni-conf-dir", str(network.conf_dir))
    async with kubelet_process(cluster, tmp_path, config, healthz, *flags) as first:
        await api.create(PODS, server_pod("orphan"))
        running = await wait_for_pod(api, "orphan", phase_is("Running"))
        names = sandbox_netns(tmp_path)
        first.kill()
        await first.wait()
    assert namespaces_left(names) == names
    assert allocated_ips() == [running["status"]["podIP"]]
    await api.delete(PODS, "orphan", namespace="default", grace_period_seconds=0)
    await wait_for_deletion(api, "orphan")

    assert mount_points_under(tmp_path / "pods"), "the pod's token volume (tmpfs)"
    async with kubelet_process(cluster, tmp_path, config, healthz, *flags):

        async def cleaned_up() -> bool:
            network_gone = not namespaces_left(names) and not allocated_ips()
            folder_gone = not (tmp_path / "pods" / running["metadata"]["uid"]).exists()
            return network_gone and not bridge_ports() and folder_gone

        await eventually(cleaned_up)
    assert mount_points_under(tmp_path) == []


async def test_a_sandbox_whose_namespace_vanished_releases_its_ip_at_the_next_start(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    async with running_kubelet(
        cluster, api, tmp_path, cni=network, pod_cidr=SUBNET, keep_containers=True
    ):
        await api.create(PODS, server_pod("rebooted"))
        await wait_for_pod(api, "rebooted", phase_is("Running"))
        names = sandbox_netns(tmp_path)
    # As after a reboot: the namespace (and with it the pod's veth) is gone.
    for name in names:
        await cni.delete_netns(name)
    assert allocated_ips()
    runtime = KubeletAgent.runtime_for(tmp_path, cni_options=network)
    try:
        await runtime.list_pod_sandboxes()

        async def released() -> bool:
            return not allocated_ips()

        await eventually(released)
    finally:
        await runtime.close()
        await unmount_all_under(tmp_path)  # the pod's token volume (tmpfs)


async def test_a_pod_made_before_the_node_has_a_pod_cidr_waits_for_it_then_gets_a_pod_ip(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    async with running_kubelet(cluster, api, tmp_path, cni=network):
        await api.create(PODS, server_pod("early"))
        # no podCIDR, so no network configuration yet: the pod waits (upstream's event),
        # it does not start on the host network
        event = await wait_for_event(api, "early", "NetworkNotReady")
        assert "cni plugin not initialized" in event["message"]
        pod = await api.get(PODS, "early", namespace="default")
        assert not pod["status"].get("podIP")
        assert not list((tmp_path / "runtime" / "sandboxes").glob("*.json"))
        async with running_controllers(
            api, "nodeipam", allocate_node_cidrs=True, cluster_cidr=SUBNET
        ):
            running = await wait_for_pod(api, "early", phase_is("Running"))
            assert (await api.get(NODES, NODE))["spec"]["podCIDR"] == SUBNET
            assert (network.conf_dir / cni.DEFAULT_CONFLIST).exists()
            assert ipaddress.ip_address(running["status"]["podIP"]) in ipaddress.ip_network(SUBNET)
        await api.delete(PODS, "early", namespace="default")
        await wait_for_deletion(api, "early")


async def test_a_failing_plugin_fails_the_sandbox_and_leaves_nothing_behind(
    cluster: Cluster, api: ApiClient, tmp_path: Path, network: CniOptions
):
    broken = cni.default_conflist(SUBNET, bridge=BRIDGE, network=NETWORK)
    broken["plugins"].append({"type": "pyn-no-such-plugin"})
    network.conf_dir.mkdir()
    (network.conf_dir / "10-broken.conflist").write_text(json.dumps(broken))
    async with running_kubelet(cluster, api, tmp_path, cni=network, pod_cidr=SUBNET):
        await api.create(PODS, server_pod("unlucky"))
        event = await wait_for_event(api, "unlucky", "FailedCreatePodSandBox")
        assert "pyn-no-such-plugin" in event["message"]
        # The bridge plugin's work was undone: no namespace, veth or address is left.
        assert not list((tmp_path / "runtime" / "sandboxes").glob("*.json"))
        assert not bridge_ports() and not allocated_ips()
        await api.delete(PODS, "unlucky", namespace="default")
        await wait_for_deletion(api, "unlucky")
