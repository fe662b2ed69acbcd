"""Ranges: which values they hold, their static bands, and how a free value is chosen."""

from __future__ import annotations

import random

import pytest

from pynetes.apiserver.servicealloc.ranges import FULL, IPRange, PortRange, RangeError, choose_free


def test_an_ipv4_range_skips_its_network_and_broadcast_addresses() -> None:
    cidr = IPRange.parse("10.96.0.0/28")
    assert (cidr.size, cidr.value(0), cidr.value(13)) == (14, "10.96.0.1", "10.96.0.14")
    assert cidr.offset("10.96.0.0") is None and cidr.offset("10.96.0.15") is None
    assert cidr.offset("10.96.0.3") == 2 and cidr.offset("10.0.0.1") is None
    assert cidr.offset("fd00::1") is None and cidr.offset("not an ip") is None


def test_the_default_ranges_and_their_static_bands_are_upstreams() -> None:
    cidr, ports = IPRange.parse("10.96.0.0/12"), PortRange.parse("30000-32767")
    assert (cidr.size, cidr.static_band, cidr.family) == (2**20 - 2, 256, "IPv4")
    assert (ports.size, ports.static_band) == (2768, 86)
    assert IPRange.parse("fd00::/108").family == "IPv6"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30000-32767", (30000, 32767)), ("30000+9", (30000, 30009)), ("31000", (31000, 31000))],
)
def test_port_ranges_parse_as_upstreams(text: str, expected: tuple[int, int]) -> None:
    found = PortRange.parse(text)
    assert (found.base, found.last) == expected


@pytest.mark.parametrize("text", ["", "a-b", "32767-30000", "0-10", "30000-70000"])
def test_bad_port_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="port range"):
        PortRange.parse(text)


def test_a_free_value_comes_from_above_the_static_band_first() -> None:
    rng = random.Random(1)
    picks = {choose_free(100, 16, set(), rng) for _ in range(200)}
    assert min(picks) >= 16
    assert choose_free(100, 16, set(range(16, 100)), rng) < 16


def test_a_full_range_says_so() -> None:
    with pytest.raises(RangeError, match=FULL):
        choose_free(4, 0, {0, 1, 2, 3}, random.Random(1))
    assert choose_free(4, 2, {0, 1, 2}, random.Random(1)) == 3


def test_refusals_carry_upstreams_messages() -> None:
    cidr, ports = IPRange.parse("10.96.0.0/12"), PortRange.parse("30000-32767")
    assert str(cidr.not_in_range("1.2.3.4")) == (
        "the provided IP (1.2.3.4) is not in the valid range. The range of valid IPs is"
        " 10.96.0.0/12"
    )
    assert str(ports.not_in_range(80)) == (
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    )
    assert str(cidr.already_allocated()) == "provided IP is already allocated"
    assert str(ports.already_allocated()) == "provided port is already allocated"
