import pytest

from pynetes.cli.main import build_parser
from pynetes.dns.answer import PodMode
from pynetes.dns.command import parse_address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:1053", ("127.0.0.1", 1053)),
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("[::1]:1053", ("::1", 1053)),
        ("[::1]", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_addresses_are_host_and_port_with_53_by_default(text, address):
    assert parse_address(text) == address


def test_the_defaults_are_kubeadms_corefile_on_loopback():
    arguments = build_parser().parse_args(["dns"])
    assert arguments.listen == ("127.0.0.1", 53)
    assert (arguments.cluster_domain, arguments.ttl, arguments.pods) == (
        "cluster.local",
        30,
        PodMode.INSECURE,
    )
    assert arguments.upstream == []
    assert (arguments.health_port, arguments.metrics_port) == (8080, 9153)


def test_upstreams_are_a_comma_separated_list():
    arguments = build_parser().parse_args(["dns", "--upstream", "127.0.0.53:53,127.0.0.54"])
    assert arguments.upstream == [("127.0.0.53", 53), ("127.0.0.54", 53)]
