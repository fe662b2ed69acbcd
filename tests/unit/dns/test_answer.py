"""Answers from a record store built by hand, per the Kubernetes DNS specification."""

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from pynetes.dns import names, records
from pynetes.dns.answer import Answerer, PodMode
from pynetes.dns.store import RecordStore

ZONE = names.zone("cluster.local")


def service(name, namespace="prod", *, cluster_ip="10.96.0.10", ports=(), **spec):
    body = {"ports": [dict(p) for p in ports], **spec}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
        body["clusterIPs"] = [cluster_ip] if cluster_ip != "None" else ["None"]
    return {"metadata": {"name": name, "namespace": namespace}, "spec": body}


def endpoint_slice(*endpoints, ports=(), address_type="IPv4"):
    return {
        "metadata": {"name": "s", "namespace": "prod"},
        "addressType": address_type,
        "endpoints": list(endpoints),
        "ports": [dict(p) for p in ports],
    }


def endpoint(ip, *, ready=True, hostname=None):
    found = {"addresses": [ip], "conditions": {"ready": ready}}
    if hostname:
        found["hostname"] = hostname
    return found


HTTP = {"name": "http", "port": 80, "protocol": "TCP"}
DNS_UDP = {"name": "dns", "port": 53, "protocol": "UDP"}


def answerer(*services, pods=PodMode.INSECURE, forwarding=False, ttl=30):
    store = RecordStore()
    store.replace("zone", records.zone_records(ZONE))
    for obj, slices in services:
        key = f"service/{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        store.replace(key, records.service_records(obj, slices, ZONE))
    return Answerer(store, ZONE, ttl=ttl, pods=pods, forwarding=forwarding)


def ask(answerer_, name, rdtype="A"):
    response = answerer_.answer(dns.message.make_query(name, rdtype))
    return response


def values(response_or_rrsets):
    rrsets = getattr(response_or_rrsets, "answer", response_or_rrsets)
    return sorted(rdata.to_text() for rrset in rrsets for rdata in rrset)


def test_a_cluster_ip_service_has_an_a_record_of_its_cluster_ip_with_the_ttl():
    response = ask(answerer((service("web"), [])), "web.prod.svc.cluster.local.")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert values(response) == ["10.96.0.10"]
    assert response.answer[0].ttl == 30


def test_a_dual_stack_service_answers_aaaa_with_its_ipv6_cluster_ip():
    dual = service("web")
    dual["spec"]["clusterIPs"] = ["10.96.0.10", "fd00:10:96::a"]
    found = answerer((dual, []))
    assert values(ask(found, "web.prod.svc.cluster.local.", "AAAA")) == ["fd00:10:96::a"]
    assert values(ask(found, "web.prod.svc.cluster.local.", "A")) == ["10.96.0.10"]


def test_srv_of_a_named_port_targets_the_service_name():
    found = answerer((service("web", ports=[HTTP, DNS_UDP, {"port": 8080}]), []))
    assert values(ask(found, "_http._tcp.web.prod.svc.cluster.local.", "SRV")) == [
        "0 100 80 web.prod.svc.cluster.local."
    ]
    assert values(ask(found, "_dns._udp.web.prod.svc.cluster.local.", "SRV")) == [
        "0 100 53 web.prod.svc.cluster.local."
    ]
    assert ask(found, "_http._udp.web.prod.svc.cluster.local.", "SRV").rcode() == (
        dns.rcode.NXDOMAIN
    )


def test_ptr_of_a_cluster_ip_names_the_service():
    found = answerer((service("web"), []))
    assert values(ask(found, "10.0.96.10.in-addr.arpa.", "PTR")) == ["web.prod.svc.cluster.local."]


def test_a_headless_service_answers_its_ready_endpoints():
    slices = [
        endpoint_slice(
            endpoint("10.1.0.1", hostname="web-0"),
            endpoint("10.1.0.2"),
            endpoint("10.1.0.3", ready=False),
            ports=[HTTP],
        )
    ]
    found = answerer((service("web", cluster_ip="None"), slices))
    assert values(ask(found, "web.prod.svc.cluster.local.")) == ["10.1.0.1", "10.1.0.2"]
    assert values(ask(found, "web-0.web.prod.svc.cluster.local.")) == ["10.1.0.1"]
    assert values(ask(found, "10-1-0-2.web.prod.svc.cluster.local.")) == ["10.1.0.2"]
    assert values(ask(found, "_http._tcp.web.prod.svc.cluster.local.", "SRV")) == [
        "0 50 80 10-1-0-2.web.prod.svc.cluster.local.",
        "0 50 80 web-0.web.prod.svc.cluster.local.",
    ]
    assert values(ask(found, "1.0.1.10.in-addr.arpa.", "PTR")) == [
        "web-0.web.prod.svc.cluster.local."
    ]
    assert ask(found, "3.0.1.10.in-addr.arpa.", "PTR").rcode() == dns.rcode.NXDOMAIN


def test_publish_not_ready_addresses_answers_every_endpoint():
    slices = [endpoint_slice(endpoint("10.1.0.3", ready=False))]
    found = answerer((service("web", cluster_ip="None", publishNotReadyAddresses=True), slices))
    assert values(ask(found, "web.prod.svc.cluster.local.")) == ["10.1.0.3"]


def test_a_headless_service_without_ready_endpoints_has_no_name():
    found = answerer((service("web", cluster_ip="None"), [endpoint_slice()]))
    assert ask(found, "web.prod.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_an_external_name_service_is_a_cname_whatever_type_is_asked():
    external = service("db", cluster_ip=None, type="ExternalName", externalName="db.example.com")
    found = answerer((external, []))
    for rdtype in ("A", "AAAA", "CNAME"):
        response = ask(found, "db.prod.svc.cluster.local.", rdtype)
        assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME]
        assert values(response) == ["db.example.com."]


def test_nxdomain_and_nodata_carry_the_zone_soa_with_the_ttl_as_minimum():
    found = answerer((service("web"), []), ttl=7)
    missing = ask(found, "db.prod.svc.cluster.local.")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert not missing.answer
    (soa,) = missing.authority
    assert soa.name == ZONE
    assert soa[0].minimum == 7
    assert soa[0].mname.to_text() == "ns.dns.cluster.local."
    nodata = ask(found, "web.prod.svc.cluster.local.", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert not nodata.answer
    assert nodata.authority[0].name == ZONE


def test_a_namespace_with_services_exists_without_records():
    found = answerer((service("web"), []))
    assert ask(found, "prod.svc.cluster.local.").rcode() == dns.rcode.NOERROR
    assert ask(found, "empty.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_the_apex_has_its_soa_and_ns_and_the_schema_version():
    found = answerer()
    assert values(ask(found, "cluster.local.", "NS")) == ["ns.dns.cluster.local."]
    assert ask(found, "cluster.local.", "SOA").answer[0].rdtype == dns.rdatatype.SOA
    assert values(ask(found, "dns-version.cluster.local.", "TXT")) == ['"1.1.0"']


@pytest.mark.parametrize(
    ("mode", "code", "answer"),
    [
        (PodMode.INSECURE, dns.rcode.NOERROR, ["10.1.2.3"]),
        (PodMode.DISABLED, dns.rcode.NXDOMAIN, []),
        (PodMode.VERIFIED, dns.rcode.NXDOMAIN, []),
    ],
)
def test_pod_names_by_mode(mode, code, answer):
    response = ask(answerer(pods=mode), "10-1-2-3.prod.pod.cluster.local.")
    assert (response.rcode(), values(response)) == (code, answer)


def test_verified_pod_names_come_from_pods_that_exist():
    found = answerer(pods=PodMode.VERIFIED)
    pod = {"metadata": {"name": "p", "namespace": "prod"}, "status": {"podIP": "10.1.2.3"}}
    found.store.replace("pod/prod/p", records.pod_records(pod, ZONE))
    assert values(ask(found, "10-1-2-3.prod.pod.cluster.local.")) == ["10.1.2.3"]
    assert ask(found, "10-1-2-3.other.pod.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_an_insecure_pod_name_that_is_no_ip_does_not_exist():
    assert ask(answerer(), "web.prod.pod.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_names_outside_the_zones_are_refused_or_left_to_the_forwarder():
    assert ask(answerer(), "example.com.").rcode() == dns.rcode.REFUSED
    assert ask(answerer(forwarding=True), "example.com.") is None


def test_an_unknown_reverse_name_is_nxdomain_or_forwarded():
    missing = ask(answerer(), "9.9.9.9.in-addr.arpa.", "PTR")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].name.to_text() == "in-addr.arpa."
    assert ask(answerer(forwarding=True), "9.9.9.9.in-addr.arpa.", "PTR") is None


def test_an_external_name_inside_the_zone_is_followed_to_its_addresses():
    alias = service(
        "alias", cluster_ip=None, type="ExternalName", externalName="web.prod.svc.cluster.local"
    )
    response = ask(answerer((alias, []), (service("web"), [])), "alias.prod.svc.cluster.local.")
    assert [(rrset.name.to_text(), rrset.rdtype) for rrset in response.answer] == [
        ("alias.prod.svc.cluster.local.", dns.rdatatype.CNAME),
        ("web.prod.svc.cluster.local.", dns.rdatatype.A),
    ]


def test_a_loop_of_external_names_ends():
    a = service("a", cluster_ip=None, type="ExternalName", externalName="b.prod.svc.cluster.local")
    b = service("b", cluster_ip=None, type="ExternalName", externalName="a.prod.svc.cluster.local")
    response = ask(answerer((a, []), (b, [])), "a.prod.svc.cluster.local.")
    assert all(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer)


def test_srv_answers_carry_their_targets_addresses_as_additional_records():
    found = answerer((service("web", ports=[HTTP]), []))
    response = ask(found, "_http._tcp.web.prod.svc.cluster.local.", "SRV")
    assert [(rrset.name.to_text(), values([rrset])) for rrset in response.additional] == [
        ("web.prod.svc.cluster.local.", ["10.96.0.10"])
    ]


def test_a_service_without_a_cluster_ip_yet_has_no_records():
    slices = [endpoint_slice(endpoint("10.1.0.1"), ports=[HTTP])]
    found = answerer((service("web", cluster_ip=None), slices))
    assert ask(found, "web.prod.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_ipv6_endpoints_have_aaaa_and_ip6_arpa_ptr_records():
    slices = [endpoint_slice(endpoint("fd00::5", hostname="web-0"), address_type="IPv6")]
    found = answerer((service("web", cluster_ip="None"), slices))
    assert values(ask(found, "web.prod.svc.cluster.local.", "AAAA")) == ["fd00::5"]
    assert ask(found, "web.prod.svc.cluster.local.", "A").answer == []
    reverse = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."
    assert values(ask(found, reverse, "PTR")) == ["web-0.web.prod.svc.cluster.local."]
