"""The node lifecycle controller's rules: health, conditions, taints and zones."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from pynetes.controllermanager import options
from pynetes.controllermanager.controllers.nodelifecycle.controller import beta_labels_to_set
from pynetes.controllermanager.controllers.nodelifecycle.health import (
    HealthTracker,
    silenced_conditions,
)
from pynetes.controllermanager.controllers.nodelifecycle.taints import (
    difference,
    owned_no_schedule_taints,
    stamped,
    swapped,
    wanted_no_schedule_taints,
)
from pynetes.controllermanager.controllers.nodelifecycle.zones import (
    EvictionRates,
    ZoneState,
    ZoneTainter,
    zone_key,
    zone_state,
)
from tests.conftest import FakeClock

Object = dict[str, Any]
CREATED = "2024-01-01T00:00:00Z"
#: 2024-01-01T00:00:00Z
EPOCH = 1_704_067_200.0


def node(*conditions: tuple[str, str], heartbeat: str = CREATED, **spec: Any) -> Object:
    return {
        "metadata": {"name": "n1", "creationTimestamp": CREATED, "labels": {}},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": kind, "status": status, "lastHeartbeatTime": heartbeat}
                for kind, status in conditions
            ]
        },
    }


def lease(renewed: str) -> Object:
    return {"spec": {"renewTime": renewed}}


def test_the_flags_have_upstreams_names_and_131_defaults() -> None:
    defaults = options.defaults()
    assert defaults.node_monitor_period == 5.0
    assert defaults.node_monitor_grace_period == 40.0
    assert defaults.node_startup_grace_period == 60.0
    assert defaults.node_eviction_rate == 0.1
    assert defaults.secondary_node_eviction_rate == 0.01
    assert defaults.large_cluster_size_threshold == 50
    assert defaults.unhealthy_zone_threshold == 0.55
    assert defaults.terminated_pod_gc_threshold == 12500


def test_a_node_is_silent_once_neither_heartbeat_nor_lease_changed_for_the_grace_period() -> None:
    tracker = HealthTracker(grace_period=40, startup_grace_period=60)
    ready = node(("Ready", "True"))
    assert not tracker.silent(ready, lease("2024-01-01T00:00:01.000000Z"), now=EPOCH + 100)
    assert not tracker.silent(ready, lease("2024-01-01T00:00:01.000000Z"), now=EPOCH + 140)
    assert tracker.silent(ready, lease("2024-01-01T00:00:01.000000Z"), now=EPOCH + 140.5)
    # a renewal is dated when it is noticed, whatever time the kubelet wrote
    assert not tracker.silent(ready, lease("2024-01-01T00:00:02.000000Z"), now=EPOCH + 150)
    assert not tracker.silent(ready, None, now=EPOCH + 190)
    beat = node(("Ready", "True"), heartbeat="2024-01-01T00:05:00Z")
    assert not tracker.silent(beat, None, now=EPOCH + 220)
    assert tracker.silent(beat, None, now=EPOCH + 261)


def test_a_node_that_never_posted_status_gets_the_startup_grace_from_its_creation() -> None:
    tracker = HealthTracker(grace_period=40, startup_grace_period=60)
    fresh = node()
    assert not tracker.silent(fresh, None, now=EPOCH + 60)
    assert tracker.silent(fresh, None, now=EPOCH + 61)
    marked = {**fresh, "status": {"conditions": silenced_conditions(fresh, EPOCH + 61)}}
    tracker.written(marked)  # the controller's own write is no sign of life
    assert tracker.silent(marked, None, now=EPOCH + 62)


def test_silencing_sets_the_kubelets_conditions_unknown_and_adds_missing_ones() -> None:
    before = node(("Ready", "True"), ("MemoryPressure", "False"), ("NetworkUnavailable", "False"))
    after = {c["type"]: c for c in silenced_conditions(before, EPOCH + 3600)}
    assert after["Ready"]["status"] == "Unknown"
    assert after["Ready"]["reason"] == "NodeStatusUnknown"
    assert after["Ready"]["message"] == "Kubelet stopped posting node status."
    assert after["Ready"]["lastTransitionTime"] == "2024-01-01T01:00:00Z"
    assert after["Ready"]["lastHeartbeatTime"] == CREATED  # the kubelet's last one stays
    assert after["NetworkUnavailable"]["status"] == "False"  # not the kubelet's to report
    never = after["PIDPressure"]
    assert (never["status"], never["reason"]) == ("Unknown", "NodeStatusNeverUpdated")
    assert never["message"] == "Kubelet never posted node status."
    again = silenced_conditions({**before, "status": {"conditions": list(after.values())}}, 0)
    assert again == list(after.values())  # Unknown stays as it was


def test_no_schedule_taints_follow_conditions_and_cordoning() -> None:
    sick = node(("Ready", "Unknown"), ("MemoryPressure", "True"), unschedulable=True)
    assert wanted_no_schedule_taints(sick) == [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
    ]
    healed = node(("Ready", "True"), taints=[
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        {"key": "dedicated", "effect": "NoSchedule"},
    ])  # fmt: skip
    owned = owned_no_schedule_taints(healed)
    assert owned == [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]
    assert difference(wanted_no_schedule_taints(healed), owned) == ([], owned)


def test_a_taint_already_there_keeps_its_time_and_value() -> None:
    present = [{"key": "k", "value": "old", "effect": "NoExecute", "timeAdded": CREATED}]
    (added,) = stamped([{"key": "k", "effect": "NoExecute"}], EPOCH + 60)
    assert added["timeAdded"] == "2024-01-01T00:01:00Z"
    assert swapped(present, [added], []) == present
    other = {"key": "other", "effect": "NoExecute"}
    assert swapped(present, [other], present) == [other]


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        ({}, ""),
        ({"topology.kubernetes.io/zone": "a"}, ":\x00:a"),
        ({"failure-domain.beta.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "a"},
         "r:\x00:a"),
    ],
)  # fmt: skip
def test_zones_are_keyed_by_region_and_zone(labels: dict[str, str], key: str) -> None:
    assert zone_key({"metadata": {"labels": labels}}) == key


def test_zone_states_and_their_tainting_rates() -> None:
    assert zone_state(["False"], 0.55) is ZoneState.FULL_DISRUPTION
    assert zone_state(["True", "False", "Unknown"], 0.55) is ZoneState.NORMAL  # only 2 down
    assert zone_state(["True", "False", "Unknown", None], 0.55) is ZoneState.PARTIAL_DISRUPTION
    assert (
        zone_state(["True", "True", "False", "False", "False"], 0.55)
        is ZoneState.PARTIAL_DISRUPTION
    )
    assert zone_state(["True"] * 3 + ["False"] * 3, 0.55) is ZoneState.NORMAL
    rates = EvictionRates(normal=0.1, secondary=0.01, large_cluster_size=50)
    assert rates.rate(ZoneState.NORMAL, 10) == 0.1
    assert rates.rate(ZoneState.FULL_DISRUPTION, 10) == 0.1
    assert rates.rate(ZoneState.PARTIAL_DISRUPTION, 50) == 0.0
    assert rates.rate(ZoneState.PARTIAL_DISRUPTION, 51) == 0.01


async def test_a_zone_taints_one_node_per_token_and_each_node_once() -> None:
    clock = FakeClock(0.0)
    tainter = ZoneTainter(0.1, clock)
    tainted: list[str] = []

    async def taint(name: str) -> bool:
        tainted.append(name)
        return True

    assert tainter.add("a") and tainter.add("b")
    await tainter.let_through(taint)
    assert tainted == ["a"]
    clock.advance(10)
    await tainter.let_through(taint)
    assert tainted == ["a", "b"]
    assert not tainter.add("a")  # tainted already: not again until it recovers
    assert tainter.remove("a") and tainter.add("a")
    tainter.set_rate(0.0)
    clock.advance(100)
    await tainter.let_through(taint)
    assert tainted == ["a", "b"]


async def test_a_failed_taint_is_tried_again_later() -> None:
    clock = FakeClock(0.0)
    tainter = ZoneTainter(1.0, clock)
    outcomes = [False, True]

    async def taint(_name: str) -> bool:
        return outcomes.pop(0)

    tainter.add("a")
    await tainter.let_through(taint)
    clock.advance(1)
    await tainter.let_through(taint)
    assert outcomes == []
    assert not tainter.add("a")


def test_beta_labels_mirror_the_os_and_arch_labels() -> None:
    labelled = {"metadata": {"labels": {
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
    }}}  # fmt: skip
    assert beta_labels_to_set(labelled) == {"beta.kubernetes.io/arch": "arm64"}
    assert beta_labels_to_set({"metadata": {}}) == {}


def test_the_duration_flags_take_go_durations_and_the_period_must_be_positive() -> None:
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    parsed = parser.parse_args(["--node-monitor-grace-period=50s", "--node-monitor-period=1m"])
    assert (parsed.node_monitor_grace_period, parsed.node_monitor_period) == (50.0, 60.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["--node-monitor-period=0s"])
