"""NodePort addresses: the machine's addresses inside ``--nodeport-addresses``."""

from __future__ import annotations

import ipaddress

import pytest

from pynetes.proxy.localroute import needs_route
from pynetes.proxy.nodeaddresses import DEFAULT, node_addresses, parse_cidrs


def test_cidrs_parse_and_a_bare_address_is_one_address() -> None:
    assert parse_cidrs("10.0.0.0/8, 127.0.0.1") == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    ]
    with pytest.raises(ValueError):
        parse_cidrs("10.0.0.0/33")


def test_the_default_is_loopback_only() -> None:
    assert node_addresses(parse_cidrs(DEFAULT)) == ["127.0.0.1"]


def test_every_address_is_inside_the_cidrs_given() -> None:
    everything = node_addresses(parse_cidrs("0.0.0.0/0,::/0"))
    assert "127.0.0.1" in everything
    assert node_addresses(parse_cidrs("0.0.0.0/0")) == [a for a in everything if ":" not in a]


def test_loopback_ranges_need_no_route() -> None:
    assert not needs_route(ipaddress.ip_network("127.100.0.0/16"))
    assert not needs_route(ipaddress.ip_network("::1/128"))
    assert needs_route(ipaddress.ip_network("10.96.0.0/12"))
