"""The service tracker's computation: a Service and its EndpointSlices -> service ports,
as upstream's kube-proxy reads them."""

from __future__ import annotations

from typing import Any

from pynetes.proxy.model import DEFAULT_AFFINITY_TIMEOUT, Endpoint
from pynetes.proxy.tracker import service_ports

Object = dict[str, Any]


def service(name: str = "web", **spec: Any) -> Object:
    spec.setdefault("clusterIP", "127.100.0.10")
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def endpoint(ip: str, **conditions: bool) -> Object:
    return {"addresses": [ip], "conditions": conditions}


def endpoint_slice(
    name: str, endpoints: list[Object], ports: list[Object] | None = None, address_type="IPv4"
) -> Object:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": address_type,
        "endpoints": endpoints,
        "ports": ports
        if ports is not None
        else [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def test_each_port_gets_the_endpoints_of_the_slice_port_of_its_name_and_protocol() -> None:
    spec_ports = [
        {"name": "http", "port": 80, "protocol": "TCP"},
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    slice_ports = [
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "dns", "port": 5353, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 5353, "protocol": "UDP"},  # protocol differs: not matched
    ]
    ports = service_ports(
        service(ports=spec_ports), [endpoint_slice("a", [endpoint("10.0.0.2")], slice_ports)]
    )
    assert set(ports) == {"ns/web:http", "ns/web:dns", "ns/web:dns-tcp"}
    assert ports["ns/web:http"].endpoints == (Endpoint("10.0.0.2", 8080),)
    assert ports["ns/web:http"].cluster_ips == ("127.100.0.10",)
    assert ports["ns/web:dns"].protocol == "UDP"
    assert ports["ns/web:dns"].endpoints == (Endpoint("10.0.0.2", 5353),)
    assert ports["ns/web:dns-tcp"].endpoints == ()


def test_an_unnamed_port_is_keyed_by_the_service_alone() -> None:
    ports = service_ports(
        service(ports=[{"port": 80}]),
        [endpoint_slice("a", [endpoint("10.0.0.2")], [{"name": "", "port": 9000}])],
    )
    assert list(ports) == ["ns/web"]
    assert ports["ns/web"].protocol == "TCP"
    assert ports["ns/web"].endpoints == (Endpoint("10.0.0.2", 9000),)


def test_headless_external_name_and_unallocated_services_are_skipped() -> None:
    assert service_ports(service(clusterIP="None"), []) == {}
    assert service_ports(service(clusterIP=""), []) == {}
    assert service_ports(service(type="ExternalName", externalName="example.com"), []) == {}


def test_slices_are_merged_and_duplicates_counted_once_sorted_by_address() -> None:
    slices = [
        endpoint_slice("b", [endpoint("10.0.0.3"), endpoint("10.0.0.1")]),
        endpoint_slice("a", [endpoint("10.0.0.3", ready=False), endpoint("10.0.0.2")]),
    ]
    (port,) = service_ports(service(), slices).values()
    assert [e.ip for e in port.endpoints] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    # the endpoint of slice "a" (first by name) is the one kept
    assert port.endpoints[2].ready is False


def test_unusable_slices_ports_and_endpoints_are_ignored() -> None:
    slices = [
        endpoint_slice("fqdn", [{"addresses": ["db.example.com"]}], address_type="FQDN"),
        endpoint_slice("v6", [endpoint("fd00::5")], address_type="IPv6"),
        endpoint_slice("nameless", [endpoint("10.0.0.7")], [{"port": 8080, "protocol": "TCP"}]),
        endpoint_slice("portless", [endpoint("10.0.0.8")], [{"name": "http", "protocol": "TCP"}]),
        endpoint_slice("ok", [{"addresses": []}, endpoint("10.0.0.9")]),
    ]
    (port,) = service_ports(service(), slices).values()
    assert port.endpoints == (Endpoint("10.0.0.9", 8080),)


def test_dual_stack_service_takes_both_families() -> None:
    slices = [
        endpoint_slice("v4", [endpoint("10.0.0.1")]),
        endpoint_slice("v6", [endpoint("fd00::1")], address_type="IPv6"),
    ]
    dual = service(clusterIPs=["127.100.0.10", "fd00:100::10"])
    (port,) = service_ports(dual, slices).values()
    assert port.cluster_ips == ("127.100.0.10", "fd00:100::10")
    assert [e.ip for e in port.endpoints] == ["10.0.0.1", "fd00::1"]


def test_conditions_are_read_as_upstream_reads_them() -> None:
    slices = [
        endpoint_slice(
            "a",
            [
                {"addresses": ["10.0.0.1"]},
                endpoint("10.0.0.2", ready=False),
                endpoint("10.0.0.3", ready=False, serving=True, terminating=True),
                endpoint("10.0.0.4", ready=False, serving=False, terminating=True),
            ],
        )
    ]
    (port,) = service_ports(service(), slices).values()
    assert [(e.ready, e.serving, e.terminating) for e in port.endpoints] == [
        (True, True, False),
        (False, True, False),
        (False, True, True),
        (False, False, True),
    ]
    assert [e.ip for e in port.ready_endpoints()] == ["10.0.0.1"]


def test_serving_terminating_endpoints_are_the_fallback_when_none_is_ready() -> None:
    slices = [
        endpoint_slice(
            "a",
            [
                endpoint("10.0.0.2", ready=False),
                endpoint("10.0.0.3", ready=False, serving=True, terminating=True),
            ],
        )
    ]
    (port,) = service_ports(service(), slices).values()
    assert [e.ip for e in port.ready_endpoints()] == ["10.0.0.3"]


def test_affinity_node_ports_external_addresses_and_traffic_policy() -> None:
    spec: Object = {
        "type": "NodePort",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        "externalIPs": ["127.0.0.42", "fd00::42"],
        "externalTrafficPolicy": "Local",
    }
    (port,) = service_ports(service(**spec), []).values()
    assert (port.node_port, port.session_affinity, port.affinity_timeout) == (30080, "ClientIP", 60)
    assert port.external_ips == ("127.0.0.42",)  # no IPv6 cluster IP: the IPv6 one is dropped
    assert port.external_traffic_policy == "Local"
    assert port.endpoints == ()

    plain = service(sessionAffinity="ClientIP", externalTrafficPolicy="Local")
    (port,) = service_ports(plain, []).values()
    assert port.affinity_timeout == DEFAULT_AFFINITY_TIMEOUT
    assert port.external_traffic_policy == "Cluster"  # not reachable from outside


def test_load_balancer_ingress_ips_except_proxied_ones() -> None:
    balanced = service(type="LoadBalancer")
    balanced["status"] = {
        "loadBalancer": {
            "ingress": [
                {"ip": "127.0.0.50"},
                {"ip": "127.0.0.51", "ipMode": "Proxy"},
                {"hostname": "lb.example.com"},
            ]
        }
    }
    (port,) = service_ports(balanced, []).values()
    assert port.load_balancer_ips == ("127.0.0.50",)
