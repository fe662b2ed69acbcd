"""Service addresses: cluster IPs and node ports allocated by the API server, as upstream's."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from pynetes.api.resources import built_in
from pynetes.apiserver.app import RunningServer, ServerOptions, start
from pynetes.apiserver.servicealloc.services import CLUSTER_IPS_KEY, NODE_PORTS_KEY
from pynetes.client.errors import ApiError
from pynetes.client.rest import ApiClient, resource_path
from pynetes.storage.etcd.process import EtcdCluster
from tests.conftest import require_tool
from tests.integration.conftest import Cluster, Restartable, api_server, free_port
from tests.integration.controllers.harness import eventually

SERVICES = built_in("", "v1", "services")
ENDPOINTS = built_in("", "v1", "endpoints")
SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
PODS = built_in("", "v1", "pods")

Object = dict[str, Any]
#: 14 usable addresses (10.96.0.1 - 10.96.0.14), the first the kubernetes Service's.
SMALL_RANGE = "10.96.0.0/28"
SMALL_PORTS = "30000-30004"


def client_for(server: RunningServer) -> ApiClient:
    config = Restartable(Path(), 0, server).client_config()
    return ApiClient(config)


def small_options(data_dir: Path, **overrides: Any) -> ServerOptions:
    return ServerOptions(
        data_dir=data_dir,
        secure_port=free_port(),
        service_cluster_ip_range=SMALL_RANGE,
        service_node_port_range=SMALL_PORTS,
        kubernetes_service_interval=0.1,
        **overrides,
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start(small_options(tmp_path / "data"))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[ApiClient]:
    async with client_for(server) as client:
        yield client


def service(name: str, kind: str = "ClusterIP", *ports: Object, **spec: Any) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": kind, "ports": list(ports) or [{"port": 80}], **spec},
    }


async def create(api: ApiClient, obj: Object, *, dry_run: bool = False) -> Object:
    if not dry_run:
        return await api.create(SERVICES, obj, namespace="default")
    path = resource_path(SERVICES, "default")
    return await api.request("POST", path, params={"dryRun": "All"}, body=obj)


async def refused(call: Awaitable[Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    return caught.value


def in_range(ip: str, cidr: str = SMALL_RANGE) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


# -- cluster IPs -----------------------------------------------------------------------


async def test_a_service_gets_a_free_cluster_ip_of_the_range(api: ApiClient) -> None:
    created = await create(api, service("web"))
    spec = created["spec"]
    assert in_range(spec["clusterIP"]) and spec["clusterIP"] != "10.96.0.1"
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    got = await api.get(SERVICES, "web", namespace="default")
    assert got["spec"]["clusterIP"] == spec["clusterIP"]


async def test_an_explicit_cluster_ip_is_honoured_once(api: ApiClient) -> None:
    created = await create(api, service("a", clusterIP="10.96.0.10"))
    assert created["spec"]["clusterIPs"] == ["10.96.0.10"]
    error = await refused(create(api, service("b", clusterIP="10.96.0.10")))
    assert (error.code, error.reason) == (422, "Invalid")
    message = (
        'spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP'
        " 10.96.0.10: provided IP is already allocated"
    )
    assert error.message == f'Service "b" is invalid: {message}'
    assert error.details["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": message.split(": ", 1)[1],
            "field": "spec.clusterIPs",
        }
    ]
    taken = await refused(create(api, service("c", clusterIP="10.96.0.1")))
    assert "provided IP is already allocated" in taken.message  # the kubernetes Service's


async def test_a_cluster_ip_outside_the_range_is_refused(api: ApiClient) -> None:
    error = await refused(create(api, service("far", clusterIP="10.0.0.5")))
    assert error.code == 422
    assert error.message == (
        'Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed'
        " to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The"
        f" range of valid IPs is {SMALL_RANGE}"
    )


async def test_a_full_range_answers_as_upstream(api: ApiClient) -> None:
    ips = {(await create(api, service(f"s{index}")))["spec"]["clusterIP"] for index in range(13)}
    assert len(ips) == 13 and "10.96.0.1" not in ips
    error = await refused(create(api, service("one-too-many")))
    assert (error.code, error.reason) == (500, "InternalError")
    assert error.message == "Internal error occurred: failed to allocate a serviceIP: range is full"


async def test_concurrent_creates_never_share_an_address(api: ApiClient) -> None:
    created = await asyncio.gather(*(create(api, service(f"s{index}")) for index in range(13)))
    assert len({obj["spec"]["clusterIP"] for obj in created}) == 13


async def test_headless_and_external_name_services_get_no_address(api: ApiClient) -> None:
    headless = await create(api, service("db", clusterIP="None", selector={"app": "db"}))
    assert headless["spec"]["clusterIPs"] == ["None"]
    assert headless["spec"]["clusterIP"] == "None"
    external = {
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }
    created = await create(api, external)
    assert "clusterIP" not in created["spec"] and "clusterIPs" not in created["spec"]
    assert "ipFamilies" not in created["spec"]


async def test_a_deleted_service_frees_its_addresses(api: ApiClient) -> None:
    spec = {"clusterIP": "10.96.0.7"}
    await create(api, service("a", "NodePort", {"port": 80, "nodePort": 30002}, **spec))
    await api.delete(SERVICES, "a", namespace="default")
    again = await create(api, service("b", "NodePort", {"port": 80, "nodePort": 30002}, **spec))
    assert again["spec"]["clusterIP"] == "10.96.0.7"
    assert again["spec"]["ports"][0]["nodePort"] == 30002


async def test_a_dry_run_allocates_nothing(api: ApiClient) -> None:
    dry = await create(api, service("a", clusterIP="10.96.0.9"), dry_run=True)
    assert dry["spec"]["clusterIP"] == "10.96.0.9"
    dynamic = await create(api, service("b"), dry_run=True)
    assert in_range(dynamic["spec"]["clusterIP"])
    created = await create(api, service("a", clusterIP="10.96.0.9"))
    assert created["spec"]["clusterIP"] == "10.96.0.9"


async def test_the_cluster_ip_is_immutable(api: ApiClient) -> None:
    await create(api, service("web", clusterIP="10.96.0.5"))
    error = await refused(
        api.patch(SERVICES, "web", {"spec": {"clusterIP": "10.96.0.6"}}, namespace="default")
    )
    assert error.code == 422
    assert error.message == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}:'
        " may not change once set"
    )
    # a manifest without the allocated values keeps them (kubectl apply, replace)
    current = await api.get(SERVICES, "web", namespace="default")
    current["spec"].pop("clusterIP")
    current["spec"].pop("clusterIPs")
    replaced = await api.replace(SERVICES, current, namespace="default")
    assert replaced["spec"]["clusterIPs"] == ["10.96.0.5"]


# -- node ports ------------------------------------------------------------------------


async def test_node_ports_are_allocated_and_explicit_ones_honoured(api: ApiClient) -> None:
    created = await create(
        api, service("web", "NodePort", {"name": "http", "port": 80}, {"name": "x", "port": 81})
    )
    ports = [port["nodePort"] for port in created["spec"]["ports"]]
    assert len(set(ports)) == 2 and all(30000 <= port <= 30004 for port in ports)
    free = next(port for port in range(30000, 30005) if port not in ports)
    explicit = await create(api, service("db", "NodePort", {"port": 5432, "nodePort": free}))
    assert explicit["spec"]["ports"][0]["nodePort"] == free
    error = await refused(create(api, service("dup", "NodePort", {"port": 1, "nodePort": free})))
    assert (error.code, error.reason) == (422, "Invalid")
    message = f"spec.ports[0].nodePort: Invalid value: {free}: provided port is already allocated"
    assert error.message == f'Service "dup" is invalid: {message}'
    assert error.details["causes"][0]["field"] == "spec.ports[0].nodePort"


async def test_one_port_number_over_tcp_and_udp_shares_its_node_port(api: ApiClient) -> None:
    dns = service(
        "dns",
        "NodePort",
        {"name": "tcp", "port": 53, "protocol": "TCP"},
        {"name": "udp", "port": 53, "protocol": "UDP"},
    )
    ports = (await create(api, dns))["spec"]["ports"]
    assert ports[0]["nodePort"] == ports[1]["nodePort"]


async def test_a_load_balancer_may_go_without_node_ports(api: ApiClient) -> None:
    created = await create(
        api, service("lb", "LoadBalancer", {"port": 80}, allocateLoadBalancerNodePorts=False)
    )
    assert "nodePort" not in created["spec"]["ports"][0]


async def test_a_node_port_outside_the_range_is_refused(api: ApiClient) -> None:
    error = await refused(create(api, service("x", "NodePort", {"port": 80, "nodePort": 31000})))
    assert error.message == (
        'Service "x" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is'
        f" not in the valid range. The range of valid ports is {SMALL_PORTS}"
    )


async def test_a_load_balancer_with_local_traffic_gets_a_health_check_port(api: ApiClient) -> None:
    created = await create(
        api, service("lb", "LoadBalancer", {"port": 80}, externalTrafficPolicy="Local")
    )
    spec = created["spec"]
    taken = {spec["ports"][0]["nodePort"], spec["healthCheckNodePort"]}
    assert len(taken) == 2 and all(30000 <= port <= 30004 for port in taken)


async def test_the_health_check_port_follows_the_traffic_policy(api: ApiClient) -> None:
    created = await create(api, service("lb", "LoadBalancer", {"port": 80}))
    assert "healthCheckNodePort" not in created["spec"]
    patch = {"spec": {"externalTrafficPolicy": "Local"}}
    local = await api.patch(SERVICES, "lb", patch, namespace="default")
    health = local["spec"]["healthCheckNodePort"]
    assert 30000 <= health <= 30004
    patch = {"spec": {"externalTrafficPolicy": "Cluster"}}
    cluster = await api.patch(SERVICES, "lb", patch, namespace="default")
    assert "healthCheckNodePort" not in cluster["spec"]
    reused = await create(api, service("other", "NodePort", {"port": 80, "nodePort": health}))
    assert reused["spec"]["ports"][0]["nodePort"] == health


async def test_type_changes_allocate_and_release(api: ApiClient) -> None:
    created = await create(api, service("web"))
    ip = created["spec"]["clusterIP"]
    patch = {"spec": {"type": "NodePort"}}
    node_port = await api.patch(SERVICES, "web", patch, namespace="default")
    port = node_port["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 30004 and node_port["spec"]["clusterIP"] == ip
    back = await api.patch(SERVICES, "web", {"spec": {"type": "ClusterIP"}}, namespace="default")
    assert "nodePort" not in back["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in back["spec"]
    reused = await create(api, service("other", "NodePort", {"port": 80, "nodePort": port}))
    assert reused["spec"]["ports"][0]["nodePort"] == port  # released by the type change
    external = await api.patch(
        SERVICES,
        "web",
        {"spec": {"type": "ExternalName", "externalName": "example.com"}},
        namespace="default",
    )
    assert "clusterIP" not in external["spec"]
    taken = await create(api, service("takes-the-ip", clusterIP=ip))
    assert taken["spec"]["clusterIP"] == ip  # released by the move to ExternalName
    again = await api.patch(SERVICES, "web", {"spec": {"type": "ClusterIP"}}, namespace="default")
    assert in_range(again["spec"]["clusterIP"]) and again["spec"]["clusterIP"] != ip


async def test_a_refused_update_keeps_the_old_allocations(api: ApiClient) -> None:
    await create(api, service("a", "NodePort", {"port": 80, "nodePort": 30001}))
    await create(api, service("b", "NodePort", {"port": 80, "nodePort": 30002}))
    patch = {"spec": {"ports": [{"port": 80, "nodePort": 30001}]}}
    error = await refused(api.patch(SERVICES, "b", patch, namespace="default"))
    assert "provided port is already allocated" in error.message
    kept = await refused(create(api, service("c", "NodePort", {"port": 80, "nodePort": 30002})))
    assert kept.code == 422  # b still holds it


# -- the kubernetes Service ----------------------------------------------------------


async def test_the_kubernetes_service_points_at_the_api_server(
    api: ApiClient, server: RunningServer
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    svc = await api.get(SERVICES, "kubernetes", namespace="default")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}
    ]
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    endpoints = await api.get(ENDPOINTS, "kubernetes", namespace="default")
    assert endpoints["subsets"] == [
        {
            "addresses": [{"ip": "127.0.0.1"}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }
    ]
    slice_ = await api.get(SLICES, "kubernetes", namespace="default")
    assert slice_["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert slice_["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert slice_["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]


@pytest.mark.parametrize("resource", [SERVICES, ENDPOINTS, SLICES], ids=lambda r: r.plural)
async def test_the_kubernetes_objects_come_back_after_deletion(api: ApiClient, resource) -> None:
    before = await api.get(resource, "kubernetes", namespace="default")
    await api.delete(resource, "kubernetes", namespace="default")

    async def back() -> bool:
        try:
            now = await api.get(resource, "kubernetes", namespace="default")
        except ApiError:
            return False
        return now["metadata"]["uid"] != before["metadata"]["uid"]

    await eventually(back)
    if resource is SERVICES:
        again = await api.get(SERVICES, "kubernetes", namespace="default")
        assert again["spec"]["clusterIP"] == "10.96.0.1"


# -- restarts and other API servers --------------------------------------------------


async def test_a_restarted_server_never_hands_out_an_address_in_use(
    restartable: Restartable,
) -> None:
    async with ApiClient(restartable.client_config()) as api:
        first = await create(api, service("a", "NodePort", {"port": 80}))
    # even with the stored allocations lost, the Services say what is in use
    await restartable.server.store.delete(CLUSTER_IPS_KEY)
    await restartable.server.store.delete(NODE_PORTS_KEY)
    await restartable.restart()
    ip, port = first["spec"]["clusterIP"], first["spec"]["ports"][0]["nodePort"]
    async with ApiClient(restartable.client_config()) as api:
        error = await refused(create(api, service("b", clusterIP=ip)))
        assert "provided IP is already allocated" in error.message
        error = await refused(create(api, service("c", "NodePort", {"port": 1, "nodePort": port})))
        assert "provided port is already allocated" in error.message
        kubernetes = await refused(create(api, service("d", clusterIP="10.96.0.1")))
        assert kubernetes.code == 422
        created = await create(api, service("e"))
        assert created["spec"]["clusterIP"] not in (ip, "10.96.0.1")


async def test_two_api_servers_on_one_etcd_share_addresses_and_endpoints(tmp_path: Path) -> None:
    require_tool("etcd")
    etcd = await EtcdCluster.start(tmp_path / "etcd")
    servers: list[RunningServer] = []
    try:
        for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3")):
            options = small_options(
                tmp_path / name,
                pki_dir=tmp_path / "pki",
                storage="etcd",
                etcd_servers=etcd.endpoints,
                advertise_address=address,  # named in Endpoints only: nothing connects to it
            )
            servers.append(await start(options))
        async with client_for(servers[0]) as a, client_for(servers[1]) as b:
            created = await asyncio.gather(
                *(create((a, b)[index % 2], service(f"s{index}")) for index in range(13))
            )
            assert len({obj["spec"]["clusterIP"] for obj in created}) == 13
            error = await refused(create(b, service("one-too-many")))
            assert error.code == 500

            async def addresses() -> set[str]:
                endpoints = await a.get(ENDPOINTS, "kubernetes", namespace="default")
                return {item["ip"] for item in endpoints["subsets"][0]["addresses"]}

            await eventually(lambda: _is(addresses(), {"127.0.0.2", "127.0.0.3"}))
            await servers.pop().stop()  # b gives up its lease; a drops its address
            await eventually(lambda: _is(addresses(), {"127.0.0.2"}))
    finally:
        for running in servers:
            await running.stop()
        await etcd.stop()


async def _is(found: Awaitable[set[str]], wanted: set[str]) -> bool:
    return await found == wanted


# -- kubectl ---------------------------------------------------------------------------


async def test_kubectl_shows_the_allocated_addresses(cluster: Cluster) -> None:
    kubectl = cluster.kubectl()
    await kubectl("create", "service", "nodeport", "web", "--tcp=80:8080")
    _, out, _ = await kubectl("get", "svc", "web", "-o", "json")
    spec = json.loads(out)["spec"]
    ip, node_port = spec["clusterIP"], spec["ports"][0]["nodePort"]
    assert in_range(ip, "10.96.0.0/12") and 30000 <= node_port <= 32767
    _, out, _ = await kubectl("get", "svc")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert rows[1][:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    assert rows[2][:5] == ["web", "NodePort", ip, "<none>", f"80:{node_port}/TCP"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    await kubectl("create", "-f", "-", stdin=json.dumps(pod).encode())
    await kubectl("expose", "pod", "p", "--port=81", "--type=LoadBalancer")
    _, out, _ = await kubectl("get", "svc", "p", "--no-headers")
    name, kind, cluster_ip, external, ports, _age = out.split()
    assert (name, kind, external) == ("p", "LoadBalancer", "<pending>")
    assert in_range(cluster_ip, "10.96.0.0/12") and ports.startswith("81:3")


SERVICE_MANIFEST = """
apiVersion: v1
kind: Service
metadata:
  name: api
  labels: {tier: %s}
spec:
  type: NodePort
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080}
"""


async def test_kubectl_apply_again_keeps_the_allocated_addresses(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubectl = cluster.kubectl()
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(SERVICE_MANIFEST % "one")
    await kubectl("apply", "-f", str(manifest))
    _, out, _ = await kubectl("get", "svc", "api", "-o", "json")
    first = json.loads(out)["spec"]
    manifest.write_text(SERVICE_MANIFEST % "two")
    await kubectl("apply", "-f", str(manifest))
    _, out, _ = await kubectl("get", "svc", "api", "-o", "json")
    again = json.loads(out)
    assert again["metadata"]["labels"] == {"tier": "two"}
    assert again["spec"]["clusterIP"] == first["clusterIP"]
    assert again["spec"]["ports"][0]["nodePort"] == first["ports"][0]["nodePort"]


async def test_the_serving_certificate_covers_the_kubernetes_service_ip(tmp_path):
    async with api_server(tmp_path, service_cluster_ip_range="10.251.0.0/16") as running:
        pem = (running.server.pki_dir / "apiserver.crt").read_bytes()
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "10.251.0.1" in {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)}
