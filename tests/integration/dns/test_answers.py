"""The DNS server answers from the real API server's Services, EndpointSlices and Pods,
asked by dnspython over UDP and TCP on 127.0.0.1 (Service addresses are only answered:
nothing connects to them)."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from pynetes.api.resources import built_in
from pynetes.dns import names, records
from pynetes.dns.answer import Answerer, PodMode
from pynetes.dns.metrics import DnsMetrics
from pynetes.dns.server import DnsServer
from pynetes.dns.store import RecordStore
from tests.integration.controllers.harness import eventually
from tests.integration.dns.conftest import Dns, start_dns

SERVICES = built_in("", "v1", "services")
SLICES = built_in("discovery.k8s.io", "v1", "endpointslices")
PODS = built_in("", "v1", "pods")
NAMESPACES = built_in("", "v1", "namespaces")


def service(name, *, cluster_ip="10.96.0.20", ports=(("http", 80, "TCP"),), **spec):
    body = {
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
        **spec,
    }
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
    return {"metadata": {"name": name, "namespace": "default"}, "spec": body}


def endpoint_slice(name, service_name, addresses, *, hostnames=None, port=("http", 8080)):
    hostnames = hostnames or {}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": True}}
            | ({"hostname": hostnames[ip]} if ip in hostnames else {})
            for ip in addresses
        ],
        "ports": [{"name": port[0], "port": port[1], "protocol": "TCP"}],
    }


def answers(answer):
    return sorted(rdata.to_text() for rdata in answer)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_a_srv_and_ptr_of_a_cluster_ip_service(api, cluster_dns: Dns, tcp):
    await api.create(SERVICES, service("web"))
    resolver = cluster_dns.resolver()
    name = "web.default.svc.cluster.local."

    async def resolved():
        response = await cluster_dns.query(name, tcp=tcp)
        return response.answer

    await eventually(resolved)
    a = await resolver.resolve(name, "A", tcp=tcp)
    assert answers(a) == ["10.96.0.20"]
    srv = await resolver.resolve(f"_http._tcp.{name}", "SRV", tcp=tcp)
    assert answers(srv) == ["0 100 80 web.default.svc.cluster.local."]
    ptr = await resolver.resolve("20.0.96.10.in-addr.arpa.", "PTR", tcp=tcp)
    assert answers(ptr) == [name]


async def test_a_headless_service_answers_its_endpoints_with_their_names(api, cluster_dns: Dns):
    await api.create(SERVICES, service("db", cluster_ip="None"))
    await api.create(
        SLICES,
        endpoint_slice(
            "db-1", "db", ["10.244.0.5", "10.244.0.6"], hostnames={"10.244.0.5": "db-0"}
        ),
    )
    name = "db.default.svc.cluster.local."

    async def both():
        response = await cluster_dns.query(name)
        return sum(len(rrset) for rrset in response.answer) == 2

    await eventually(both)
    resolver = cluster_dns.resolver()
    assert answers(await resolver.resolve(name, "A")) == ["10.244.0.5", "10.244.0.6"]
    assert answers(await resolver.resolve(f"db-0.{name}", "A")) == ["10.244.0.5"]
    assert answers(await resolver.resolve(f"_http._tcp.{name}", "SRV")) == [
        "0 50 8080 10-244-0-6.db.default.svc.cluster.local.",
        "0 50 8080 db-0.db.default.svc.cluster.local.",
    ]
    assert answers(await resolver.resolve("5.0.244.10.in-addr.arpa.", "PTR")) == [f"db-0.{name}"]


async def test_an_external_name_service_is_a_cname(api, cluster_dns: Dns):
    external = service("mail", cluster_ip=None, ports=(), type="ExternalName")
    external["spec"]["externalName"] = "mail.example.com"
    await api.create(SERVICES, external)

    async def cname():
        response = await cluster_dns.query("mail.default.svc.cluster.local.", "CNAME")
        return response.answer

    (rrset,) = await eventually(cname)
    assert answers(rrset) == ["mail.example.com."]


async def test_an_unknown_name_is_nxdomain_with_the_zone_soa(cluster_dns: Dns):
    for tcp in (False, True):
        response = await cluster_dns.query("nothing.default.svc.cluster.local.", tcp=tcp)
        assert response.rcode() == dns.rcode.NXDOMAIN
        (soa,) = response.authority
        assert (soa.name.to_text(), soa.rdtype) == ("cluster.local.", dns.rdatatype.SOA)
    with pytest.raises(dns.resolver.NXDOMAIN):
        await cluster_dns.resolver().resolve("nothing.default.svc.cluster.local.", "A")


async def test_a_service_change_is_answered_soon_after(api, cluster_dns: Dns):
    await api.create(SERVICES, service("moving", cluster_ip="10.96.0.30"))
    name = "moving.default.svc.cluster.local."

    async def answered(expected):
        response = await cluster_dns.query(name)
        return answers(rdata for rrset in response.answer for rdata in rrset) == expected

    await eventually(lambda: answered(["10.96.0.30"]))
    await api.delete(SERVICES, "moving", namespace="default")
    await eventually(lambda: answered([]))
    assert (await cluster_dns.query(name)).rcode() == dns.rcode.NXDOMAIN
    await api.create(SERVICES, service("moving", cluster_ip="10.96.0.31"))
    await eventually(lambda: answered(["10.96.0.31"]))


async def test_verified_pod_names_follow_pods(api):
    running, stop = await start_dns(api, pods=PodMode.VERIFIED)
    try:
        pod = {
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        created = await api.create(PODS, pod)
        name = "10-244-1-7.default.pod.cluster.local."
        assert (await running.query(name)).rcode() == dns.rcode.NXDOMAIN
        created["status"] = {"podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}]}
        await api.replace(PODS, created, subresource="status")

        async def resolved():
            return (await running.query(name)).answer

        (rrset,) = await eventually(resolved)
        assert answers(rrset) == ["10.244.1.7"]
    finally:
        await stop()


async def test_other_names_are_refused_or_forwarded_to_the_upstream(api, cluster_dns: Dns):
    refused = await cluster_dns.query("example.com.")
    assert refused.rcode() == dns.rcode.REFUSED
    upstream = await _fake_upstream()
    _, port = await upstream.start("127.0.0.1", 0)
    try:
        forwarding, stop = await start_dns(api, upstream=("127.0.0.1", port))
        try:
            for tcp in (False, True):
                response = await forwarding.query("example.com.", tcp=tcp)
                assert answers(response.answer[0]) == ["192.0.2.1"]
            local = await forwarding.query("nothing.default.svc.cluster.local.")
            assert local.rcode() == dns.rcode.NXDOMAIN
            external = service("site", cluster_ip=None, ports=(), type="ExternalName")
            external["spec"]["externalName"] = "www.example.com"
            await api.create(SERVICES, external)

            async def chased():
                response = await forwarding.query("site.default.svc.cluster.local.")
                return [answers(rrset) for rrset in response.answer]

            assert await eventually(chased) == [["www.example.com."], ["192.0.2.1"]]
        finally:
            await stop()
    finally:
        await upstream.stop()


async def _fake_upstream() -> DnsServer:
    """A fake upstream on 127.0.0.1 (a DnsServer of its own): example.com and
    www.example.com are 192.0.2.1."""
    store = RecordStore()
    zone = names.zone("example.com")
    address = [records.address("192.0.2.1")]
    store.replace("upstream", {zone: address, names.zone("www.example.com"): address})
    return DnsServer(Answerer(store, zone), DnsMetrics("dns://upstream"))


async def test_many_concurrent_queries_are_all_answered(api, cluster_dns: Dns):
    await api.create(SERVICES, service("busy", cluster_ip="10.96.0.40"))
    resolver = cluster_dns.resolver()
    name = "busy.default.svc.cluster.local."
    await eventually(lambda: cluster_dns.query(name))
    results = await asyncio.gather(*(resolver.resolve(name, "A") for _ in range(200)))
    assert {answers(result)[0] for result in results} == {"10.96.0.40"}


async def test_a_udp_answer_too_large_is_truncated_and_the_resolver_gets_it_over_tcp(
    api, cluster_dns: Dns
):
    await api.create(SERVICES, service("wide", cluster_ip="None"))
    addresses = [f"10.244.2.{i}" for i in range(1, 61)]
    await api.create(SLICES, endpoint_slice("wide-1", "wide", addresses))
    name = "wide.default.svc.cluster.local."

    async def complete():
        response = await cluster_dns.query(name, tcp=True)
        return sum(len(rrset) for rrset in response.answer) == 60

    await eventually(complete)
    truncated = await cluster_dns.query(name)
    assert truncated.flags & dns.flags.TC
    assert answers(await cluster_dns.resolver().resolve(name, "A")) == sorted(addresses)
