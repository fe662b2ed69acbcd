"""Which UDP flows a change of the services leaves stale."""

from __future__ import annotations

from pynetes.proxy.iptables.conntrack import stale_udp_flows
from pynetes.proxy.model import Endpoint, ServicePort


def services(protocol: str, *ips: str, node_port: int = 0) -> dict[str, ServicePort]:
    port = ServicePort(
        "ns",
        "dns",
        "",
        protocol,
        ("10.96.0.10",),
        53,
        node_port=node_port,
        external_ips=("192.168.99.1",),
        endpoints=tuple(Endpoint(ip, 5353) for ip in ips),
    )
    return {port.key: port}


def test_a_removed_endpoint_loses_its_flows_to_every_address_and_the_node_port():
    assert stale_udp_flows(
        services("UDP", "10.0.0.1", "10.0.0.2", node_port=30053),
        services("UDP", "10.0.0.2", node_port=30053),
    ) == [
        ["-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.0.0.1"],
        ["-D", "-p", "udp", "--orig-dst", "192.168.99.1", "--dst-nat", "10.0.0.1"],
        ["-D", "-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.0.0.1"],
    ]


def test_first_endpoints_clear_the_rejected_flows():
    assert stale_udp_flows(services("UDP"), services("UDP", "10.0.0.1")) == [
        ["-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"],
        ["-D", "-p", "udp", "--orig-dst", "192.168.99.1", "--orig-port-dst", "53"],
    ]


def test_a_removed_service_loses_its_flows():
    assert stale_udp_flows(services("UDP", "10.0.0.1"), {}) == [
        ["-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.0.0.1"],
        ["-D", "-p", "udp", "--orig-dst", "192.168.99.1", "--dst-nat", "10.0.0.1"],
    ]


def test_tcp_and_unchanged_services_need_nothing():
    assert stale_udp_flows(services("TCP", "10.0.0.1"), services("TCP", "10.0.0.2")) == []
    assert stale_udp_flows(services("UDP", "10.0.0.1"), services("UDP", "10.0.0.1")) == []
