"""The userspace proxy's round-robin with ClientIP affinity."""

from __future__ import annotations

from pynetes.proxy.userspace.balancer import RoundRobin
from tests.conftest import FakeClock

A, B, C = ("10.0.0.1", 80), ("10.0.0.2", 80), ("10.0.0.3", 80)


def keep_order(_endpoints: list) -> None:
    """No shuffle: the rotation is the given order."""


def test_rotates_over_the_endpoints_and_has_none_without_them() -> None:
    balancer = RoundRobin(shuffle=keep_order)
    assert balancer.next("1.1.1.1") is None
    balancer.update([A, B, C])
    assert [balancer.next("1.1.1.1") for _ in range(6)] == [A, B, C, A, B, C]


def test_the_same_set_keeps_the_rotation_a_new_one_restarts_it() -> None:
    balancer = RoundRobin(shuffle=keep_order)
    balancer.update([A, B, C])
    assert balancer.next("x") == A
    balancer.update([C, B, A])
    assert balancer.next("x") == B
    balancer.update([A, C])
    assert [balancer.next("x") for _ in range(3)] == [A, C, A]


def test_client_ip_affinity_sticks_until_its_timeout() -> None:
    clock = FakeClock(0)
    balancer = RoundRobin(affinity_timeout=10, clock=clock, shuffle=keep_order)
    balancer.update([A, B, C])
    assert {balancer.next("1.1.1.1") for _ in range(5)} == {A}
    assert balancer.next("2.2.2.2") == B
    clock.advance(9)
    assert balancer.next("1.1.1.1") == A  # used again: the timeout restarts
    clock.advance(10)
    assert balancer.next("1.1.1.1") == C


def test_a_failed_sticky_endpoint_is_replaced_and_a_removed_one_forgotten() -> None:
    clock = FakeClock(0)
    balancer = RoundRobin(affinity_timeout=10, clock=clock, shuffle=keep_order)
    balancer.update([A, B])
    assert balancer.next("1.1.1.1") == A
    assert balancer.next("1.1.1.1", reset_affinity=True) == B
    assert balancer.next("1.1.1.1") == B
    balancer.update([A, C])
    assert balancer.next("1.1.1.1") == A


def test_purge_forgets_expired_affinities() -> None:
    clock = FakeClock(0)
    balancer = RoundRobin(affinity_timeout=10, clock=clock, shuffle=keep_order)
    balancer.update([A, B])
    balancer.next("1.1.1.1")
    clock.advance(11)
    balancer.purge()
    assert balancer._affinity == {}
