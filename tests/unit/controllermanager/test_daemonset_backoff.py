"""The backoff between deleting a node's failed daemon pods."""

from __future__ import annotations

from pynetes.controllermanager.controllers.daemonset.controller import FailedPodBackoff


def test_each_deletion_doubles_the_wait_up_to_the_cap_and_a_quiet_node_starts_over() -> None:
    now = [100.0]
    backoff = FailedPodBackoff(lambda: now[0])
    assert backoff.remaining("ds/n1") == 0
    backoff.step("ds/n1")
    assert backoff.remaining("ds/n1") == 1.0
    assert backoff.remaining("ds/n2") == 0, "per node"
    for _ in range(20):
        now[0] += backoff.remaining("ds/n1")
        backoff.step("ds/n1")
    assert backoff.remaining("ds/n1") == 15 * 60.0
    now[0] += 2 * 15 * 60.0 + 1
    backoff.step("ds/n1")
    assert backoff.remaining("ds/n1") == 1.0
