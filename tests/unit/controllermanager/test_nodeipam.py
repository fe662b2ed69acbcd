"""The node IPAM controller's CIDR set."""

from __future__ import annotations

import ipaddress

import pytest

from pynetes.controllermanager.controllers.nodeipam import CidrSet

net = ipaddress.ip_network


def test_blocks_are_handed_out_in_order_never_twice_and_reused_once_released():
    cidrs = CidrSet(net("10.244.0.0/22"), 24)
    assert cidrs.occupy(net("10.244.1.0/24"))
    assert [cidrs.allocate() for _ in range(4)] == [
        net("10.244.0.0/24"),
        net("10.244.2.0/24"),
        net("10.244.3.0/24"),
        None,
    ]
    cidrs.release(net("10.244.1.0/24"))
    assert cidrs.allocate() == net("10.244.1.0/24")


def test_blocks_outside_the_cluster_cidr_or_of_another_size_are_not_ours():
    cidrs = CidrSet(net("10.244.0.0/16"), 24)
    assert not cidrs.occupy(net("10.245.0.0/24"))
    assert not cidrs.occupy(net("10.244.0.0/25"))
    assert cidrs.allocate() == net("10.244.0.0/24")


def test_a_mask_size_that_does_not_fit_is_refused():
    with pytest.raises(ValueError):
        CidrSet(net("10.244.0.0/16"), 8)
