import dns.name
import pytest

from pynetes.dns import names

ZONE = names.zone("cluster.local")


def test_the_zone_is_absolute_whatever_the_flag_says():
    assert names.zone("cluster.local.") == names.zone("cluster.local") == ZONE
    assert ZONE.is_absolute()


def test_service_srv_endpoint_and_pod_names_follow_the_specification():
    assert names.service("web", "prod", ZONE) == dns.name.from_text("web.prod.svc.cluster.local.")
    assert names.srv("http", "TCP", "web", "prod", ZONE) == dns.name.from_text(
        "_http._tcp.web.prod.svc.cluster.local."
    )
    assert names.endpoint("web-0", "web", "prod", ZONE) == dns.name.from_text(
        "web-0.web.prod.svc.cluster.local."
    )
    assert names.pod("10.1.2.3", "prod", ZONE) == dns.name.from_text(
        "10-1-2-3.prod.pod.cluster.local."
    )
    assert names.version(ZONE) == dns.name.from_text("dns-version.cluster.local.")


def test_names_compare_without_case():
    assert names.service("Web", "PROD", ZONE) == dns.name.from_text("web.prod.svc.cluster.local.")


@pytest.mark.parametrize(
    ("ip", "label"),
    [("10.1.2.3", "10-1-2-3"), ("fd00::1", "fd00--1"), ("2001:db8::a:1", "2001-db8--a-1")],
)
def test_dashed_labels_round_trip(ip, label):
    assert names.dashed(ip) == label
    assert names.undashed(label) == ip


@pytest.mark.parametrize("label", ["web", "10-1-2", "10-1-2-300", "1-2-3-4-5-6-7-8-9", ""])
def test_a_label_that_is_no_ip_gives_none(label):
    assert names.undashed(label) is None


def test_reverse_names_and_their_zones():
    assert names.reverse("10.96.0.10") == dns.name.from_text("10.0.96.10.in-addr.arpa.")
    assert names.reverse_zone(names.reverse("10.96.0.10")) == dns.name.from_text("in-addr.arpa.")
    assert names.reverse_zone(names.reverse("fd00::1")) == dns.name.from_text("ip6.arpa.")
    assert names.reverse_zone(dns.name.from_text("example.com.")) is None
