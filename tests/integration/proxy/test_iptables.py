"""The iptables backend on this machine's real tables, with real pods in namespaces.

The world: two pods (``pyn-ipt-a``, ``pyn-ipt-b``) in 10.250.17.0/24, a service
range 10.251.17.0/24 made local before anything connects to it, NodePorts only on
the pods' host-side addresses (so no other traffic on this machine is touched).
Every test removes its rules, namespaces and route, also on failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from pynetes.proxy.iptables import IptablesProxier
from pynetes.proxy.iptables.proxier import ROUTE_LOCALNET
from pynetes.proxy.model import Endpoint, ServicePort
from tests.conftest import require
from tests.integration.proxy.world import POD_PORT, Pod, ask_udp, get, local_route, pod

SUBNET = "10.250.17"
CLUSTER_CIDR = f"{SUBNET}.0/24"
SERVICE_CIDR = "10.251.17.0/24"
CLUSTER_IP = "10.251.17.10"
NODE_PORT = 31917


def iptables_save() -> str:
    return subprocess.run(["iptables-save"], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def pods() -> Iterator[tuple[Pod, Pod]]:
    require(
        os.geteuid() == 0 and shutil.which("iptables-restore") is not None,
        "root and iptables (Debian package iptables)",
    )
    with pod("ipt-a", SUBNET, 0) as a, pod("ipt-b", SUBNET, 1) as b, local_route(SERVICE_CIDR):
        yield a, b


@pytest.fixture
async def proxier(pods) -> AsyncIterator[IptablesProxier]:
    proxier = IptablesProxier(
        cluster_cidr=CLUSTER_CIDR, node_port_addresses=tuple(p.host_ip for p in pods)
    )
    try:
        yield proxier
    finally:
        await proxier.cleanup()


def rejected() -> int:
    """The packet counter of the REJECT rule in filter KUBE-SERVICES."""
    listing = subprocess.run(
        ["iptables", "-w", "-t", "filter", "-L", "KUBE-SERVICES", "-v", "-n", "-x"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (line,) = [line for line in listing.splitlines() if "REJECT" in line]
    return int(line.split()[0])


def web(*pods: Pod, affinity: str = "None") -> dict[str, ServicePort]:
    port = ServicePort(
        "default",
        "web",
        "http",
        "TCP",
        (CLUSTER_IP,),
        80,
        node_port=NODE_PORT,
        session_affinity=affinity,
        endpoints=tuple(Endpoint(p.ip, POD_PORT) for p in pods),
    )
    return {port.key: port}


def answers(host: str, port: int, count: int) -> Counter[str]:
    return Counter(get(host, port) for _ in range(count))


async def test_cluster_ip_balances_over_both_pods(pods, proxier):
    await proxier.sync(web(*pods))
    assert set(answers(CLUSTER_IP, 80, 60)) == {"ipt-a", "ipt-b"}


async def test_node_port_on_the_host_address(pods, proxier):
    await proxier.sync(web(*pods))
    assert set(answers(pods[0].host_ip, NODE_PORT, 60)) == {"ipt-a", "ipt-b"}


async def test_a_removed_endpoint_gets_no_new_connections(pods, proxier):
    a, b = pods
    await proxier.sync(web(a, b))
    await proxier.sync(web(b))
    assert answers(CLUSTER_IP, 80, 30) == {"ipt-b": 30}
    assert answers(a.host_ip, NODE_PORT, 10) == {"ipt-b": 10}


async def test_no_endpoints_is_refused_by_reject(pods, proxier):
    await proxier.sync(web())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((CLUSTER_IP, 80), timeout=5)
    assert rejected() >= 1  # our rule refused it (not the local route)


async def test_a_udp_flow_follows_its_endpoint_away(pods):
    a, b = pods
    require(shutil.which("conntrack") is not None, "conntrack (Debian package conntrack)")
    proxier = IptablesProxier(cluster_cidr=CLUSTER_CIDR)

    def dns(*pods: Pod) -> dict[str, ServicePort]:
        endpoints = tuple(Endpoint(p.ip, POD_PORT) for p in pods)
        port = ServicePort("default", "dns", "", "UDP", (CLUSTER_IP,), 53, endpoints=endpoints)
        return {port.key: port}

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            await proxier.sync(dns(a))
            assert ask_udp(client, CLUSTER_IP, 53) == "ipt-a"
            # The same flow (same client port) would stay DNAT'd to a without cleanup.
            await proxier.sync(dns(b))
            assert ask_udp(client, CLUSTER_IP, 53) == "ipt-b"
    finally:
        await proxier.cleanup()


async def test_session_affinity_sticks_to_one_pod(pods, proxier):
    await proxier.sync(web(*pods, affinity="ClientIP"))
    assert len(answers(CLUSTER_IP, 80, 30)) == 1


async def test_cleanup_leaves_no_chain_and_no_jump(pods, proxier):
    await proxier.sync(web(*pods))
    saved = iptables_save()
    assert '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in saved
    assert ":KUBE-SVC-" in saved
    await proxier.cleanup()
    assert "KUBE-" not in iptables_save()
    with pytest.raises(ConnectionRefusedError):  # the range stays local without rules
        socket.create_connection((CLUSTER_IP, 80), timeout=5)


async def test_node_port_on_localhost_with_route_localnet(pods):
    before = ROUTE_LOCALNET.read_text()
    proxier = IptablesProxier(cluster_cidr=CLUSTER_CIDR, localhost_nodeports=True)
    try:
        await proxier.sync(web(*pods))
        assert ROUTE_LOCALNET.read_text() == "1\n"
        assert set(answers("127.0.0.1", NODE_PORT, 60)) == {"ipt-a", "ipt-b"}
    finally:
        await proxier.cleanup()
    assert ROUTE_LOCALNET.read_text() == before
    assert "KUBE-" not in iptables_save()
