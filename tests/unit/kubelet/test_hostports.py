"""The ports a pod takes on its node."""

from __future__ import annotations

from pynetes.kubelet.hostports import conflicts, node_ports


def pod(name: str, *ports: dict) -> dict:
    containers = [{"name": "c", "ports": list(ports)}]
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"containers": containers}}


def test_a_pod_with_its_own_network_takes_only_its_host_ports():
    web = pod(
        "web", {"containerPort": 80}, {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"}
    )
    assert node_ports(web, shares_host_network=False) == {(5353, "UDP", "")}
    assert node_ports(web, shares_host_network=True) == {(80, "TCP", ""), (5353, "UDP", "")}


def test_ports_conflict_on_the_same_number_protocol_and_overlapping_addresses():
    first = pod("first")
    taken = {(80, "TCP", "127.0.0.1"), (53, "UDP", "")}
    others = [(first, taken)]
    assert conflicts({(80, "TCP", "")}, others) == ["80/TCP is used by pod ns/first"]
    assert conflicts({(80, "TCP", "127.0.0.2")}, others) == []
    assert conflicts({(80, "UDP", ""), (53, "TCP", "")}, others) == []
    assert conflicts({(53, "UDP", "127.0.0.1")}, others) == ["53/UDP is used by pod ns/first"]
