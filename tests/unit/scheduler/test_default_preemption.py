"""DefaultPreemption: victim selection on a node, the choice of node, eligibility,
and the nominator's room-keeping, through a real default-profile framework."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from pynetes.scheduler.algorithm import Algorithm
from pynetes.scheduler.config import parse
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status, unresolvable, unschedulable
from pynetes.scheduler.nominator import Nominator
from pynetes.scheduler.plugins.default_preemption.candidates import Candidate, pick_one_node
from pynetes.scheduler.plugins.default_preemption.victims import (
    NO_VICTIMS,
    Victims,
    select_victims,
)
from pynetes.scheduler.plugins.registry import in_tree_registry
from tests.unit.scheduler.builders import node, pdb, pod

HEADER = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return NOW


def framework(snapshot: Snapshot, nominator: Nominator | None = None) -> Framework:
    profile = parse(HEADER).profiles[0]
    client: Any = object()  # DefaultBinder keeps it; nothing here calls the API
    handle = Handle(client, lambda: snapshot, nominator=nominator)
    return Framework(profile, in_tree_registry(), handle)


def dry_run(preemptor: dict, info: NodeInfo, pdbs: list[dict] | None = None):
    snapshot = Snapshot([info])
    fw = framework(snapshot)
    state = CycleState()
    _, status = fw.run_pre_filter(state, preemptor, snapshot.list())
    assert status.is_success
    victims, status = select_victims(fw, state, preemptor, info.copy(), pdbs or [], now)
    names = None if victims is None else [v["metadata"]["name"] for v in victims.pods]
    return names, (victims.pdb_violations if victims else 0), status


def low(name: str, priority: int, cpu: str = "2", started: str = "2025-01-01T00:00:00Z"):
    return pod(name).container(cpu=cpu).priority(priority).started(started)


HIGH = pod("high").container(cpu="2").priority(100).build()


@pytest.mark.parametrize(
    ("case", "preemptor", "pods", "pdbs", "victims", "violations", "reason"),
    [
        (
            "the least important pod goes, the other is reprieved",
            HIGH,
            [low("p1", 1).build(), low("p2", 2).build()],
            [],
            ["p1"],
            0,
            "",
        ),
        (
            "equal priorities: the later started goes",
            HIGH,
            [low("old", 1).build(), low("new", 1, started="2025-06-01T00:00:00Z").build()],
            [],
            ["new"],
            0,
            "",
        ),
        (
            "a PodDisruptionBudget protects the pod it covers",
            HIGH,
            [
                low("old", 1).build(),
                low("new", 1, started="2025-06-01T00:00:00Z").label("app", "db").build(),
            ],
            [pdb("db", 0, app="db")],
            ["old"],
            0,
            "",
        ),
        (
            "a budget is broken only when nothing else helps",
            pod("big").container(cpu="4").priority(100).build(),
            [low("a", 1).label("app", "db").build(), low("b", 1).build()],
            [pdb("db", 0, app="db")],
            ["a", "b"],
            1,
            "",
        ),
        (
            "equal or higher priority pods are never victims",
            HIGH,
            [low("same", 100).build(), low("higher", 200).build()],
            [],
            None,
            0,
            NO_VICTIMS,
        ),
        (
            "evicting everything evictable does not help",
            pod("huge").container(cpu="8").priority(100).build(),
            [low("p1", 1).build()],
            [],
            None,
            0,
            "Insufficient cpu",
        ),
        (
            "the pod holding a wanted host port goes",
            pod("web").container(cpu="1").host_port(80).priority(100).build(),
            [low("p1", 1, cpu="1").host_port(80).build(), low("p2", 1, cpu="1").build()],
            [],
            ["p1"],
            0,
            "",
        ),
    ],
)
def test_select_victims(case, preemptor, pods, pdbs, victims, violations, reason):
    info = node("n").capacity(cpu="4").info(*pods)
    names, broken, status = dry_run(preemptor, info, pdbs)
    assert names == victims, case
    assert broken == violations, case
    assert status.message == reason, case


def test_select_victims_leaves_the_snapshot_alone():
    info = node("n").capacity(cpu="4").info(low("p1", 1).build(), low("p2", 1).build())
    dry_run(HIGH, info)
    assert len(info.pods) == 2 and info.requested.milli_cpu == 4000


def victims(*pods: dict, violations: int = 0) -> Victims:
    return Victims(list(pods), violations)


P = {name: low(name, priority).build() for name, priority in [("a1", 1), ("a2", 2), ("a3", 3)]}
LATE = low("late", 1, started="2025-06-01T00:00:00Z").build()


@pytest.mark.parametrize(
    ("case", "candidates", "chosen"),
    [
        (
            "a node needing no victims wins at once",
            [("x", victims(P["a1"])), ("y", victims())],
            "y",
        ),
        (
            "fewest PDB violations first",
            [("x", victims(P["a1"], violations=1)), ("y", victims(P["a3"], P["a2"]))],
            "y",
        ),
        ("lowest highest-victim priority", [("x", victims(P["a3"])), ("y", victims(P["a2"]))], "y"),
        (
            "then fewest victims by the shifted priority sum",
            [("x", victims(P["a2"], P["a1"])), ("y", victims(P["a2"]))],
            "y",
        ),
        (
            "then the latest start among the most important victims",
            [("x", victims(P["a1"])), ("y", victims(LATE))],
            "y",
        ),
        ("ties keep the first node", [("x", victims(P["a1"])), ("y", victims(P["a1"]))], "x"),
    ],
)
def test_pick_one_node(case, candidates, chosen):
    picked = pick_one_node([Candidate(name, v) for name, v in candidates], now)
    assert picked is not None and picked.node_name == chosen, case


def test_pick_one_node_without_candidates():
    assert pick_one_node([], now) is None


def preemption(snapshot: Snapshot, nominator: Nominator | None = None):
    fw = framework(snapshot, nominator)
    return fw, next(p for p in fw.points["postFilter"] if p.name == "DefaultPreemption")


async def post_filter(preemptor: dict, infos: list[NodeInfo], statuses: dict[str, Status]):
    snapshot = Snapshot(infos)
    fw, plugin = preemption(snapshot)
    state = CycleState()
    fw.run_pre_filter(state, preemptor, snapshot.list())
    return await plugin.post_filter(state, preemptor, statuses)


async def test_preemption_policy_never_is_not_eligible():
    never = pod("never").container(cpu="2").priority(100).preemption_policy("Never").build()
    info = node("n").capacity(cpu="2").info(low("p1", 1).build())
    nominated, status = await post_filter(never, [info], {"n": unschedulable("Insufficient cpu")})
    assert nominated is None
    assert status.message == "preemption: not eligible due to preemptionPolicy=Never."


async def test_no_candidates_clears_the_nomination_and_says_why_per_node():
    full = node("full").capacity(cpu="2").info(low("same", 100).build())
    tainted = node("tainted").capacity(cpu="2").taint("dedicated", "gpu").info()
    statuses = {
        "full": unschedulable("Insufficient cpu"),
        "tainted": unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
    }
    nominated, status = await post_filter(HIGH, [full, tainted], statuses)
    assert nominated == ""
    assert status.message == (
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )


async def test_a_terminating_victim_on_the_nominated_node_makes_the_pod_wait():
    victim = low("p1", 1).build()
    victim["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    victim["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}
    ]
    info = node("n").capacity(cpu="2").info(victim)
    waiting = pod("high").container(cpu="2").priority(100).nominated("n").build()
    nominated, status = await post_filter(waiting, [info], {"n": unschedulable("Insufficient cpu")})
    assert nominated is None
    assert status.message == (
        "preemption: not eligible due to a terminating pod on the nominated node."
    )


@pytest.mark.parametrize(
    ("priority", "fits"),
    [(50, False), (100, False), (150, True)],
)
def test_nominated_pods_keep_their_room_from_lower_or_equal_priority(priority, fits):
    info = node("n").capacity(cpu="2").info()
    nominator = Nominator()
    nominator.add(pod("nominee").container(cpu="2").priority(100).nominated("n").build())
    fw = framework(Snapshot([info]), nominator)
    other = pod("other").container(cpu="2").priority(priority).build()
    state = CycleState()
    fw.run_pre_filter(state, other, [info])
    assert fw.run_filter_with_nominated_pods(state, other, info).is_success is fits


def test_a_nominated_pod_does_not_count_against_itself():
    info = node("n").capacity(cpu="2").info()
    nominee = pod("nominee").container(cpu="2").priority(100).nominated("n").build()
    nominator = Nominator()
    nominator.add(nominee)
    fw = framework(Snapshot([info]), nominator)
    state = CycleState()
    fw.run_pre_filter(state, nominee, [info])
    assert fw.run_filter_with_nominated_pods(state, nominee, info).is_success


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "", ["n"]),  # an update in flight keeps the nomination made here
        ("n", "", []),  # the nomination was cleared
        ("", "m", ["m"]),  # renominated
    ],
)
def test_nominator_update(old, new, expected):
    nominator = Nominator()
    base = pod("p").priority(1)
    before, after = base.build(), dict(base.build())
    nominator.add(before, "n")
    before = {**before, "status": {"nominatedNodeName": old}}
    after = {**after, "status": {"nominatedNodeName": new}}
    nominator.update(before, after)
    assert [name for name in ("n", "m") if nominator.pods_on(name)] == expected


def test_a_nominated_pod_goes_to_its_node_when_it_fits_there():
    """Even when emptier nodes would score higher: that is where room was made."""
    busy = node("c").capacity(cpu="4").info(low("resident", 1, cpu="3").build())
    snapshot = Snapshot([node("a").capacity(cpu="4").info(), busy])
    nominee = pod("nominee").container(cpu="1").priority(100).nominated("c").build()
    outcome = Algorithm(random.Random(1)).schedule(
        framework(snapshot), CycleState(), nominee, snapshot, 100
    )
    assert outcome.node == "c"


HOSTNAME = "kubernetes.io/hostname"


def refusing_db(name: str = "high") -> dict:
    """A preemptor that may not share a node with app=db pods."""
    db = {"matchLabels": {"app": "db"}}
    return pod(name).container(cpu="1").priority(100).pod_affinity(HOSTNAME, db, anti=True).build()


def test_a_pod_the_preemptors_anti_affinity_refuses_is_its_victim():
    """InterPodAffinity's RemovePod: taking the pod off the node lifts the refusal."""
    info = (
        node("n")
        .capacity(cpu="8")
        .label(HOSTNAME, "n")
        .info(low("db", 1, cpu="1").label("app", "db").build(), low("web", 1, cpu="1").build())
    )
    assert dry_run(refusing_db(), info) == (["db"], 0, Status())


def test_a_pod_whose_anti_affinity_refuses_the_preemptor_is_its_victim():
    guard = {"matchLabels": {"app": "web"}}
    refusing = low("guard", 1, cpu="1").pod_affinity(HOSTNAME, guard, anti=True).build()
    info = node("n").capacity(cpu="8").label(HOSTNAME, "n").info(refusing)
    preemptor = pod("high").container(cpu="1").priority(100).label("app", "web").build()
    assert dry_run(preemptor, info) == (["guard"], 0, Status())


def test_a_higher_priority_pod_nominated_to_a_node_counts_for_anti_affinity():
    """InterPodAffinity's AddPod: a pod nominated to the node (room it was promised)
    keeps a pod whose anti-affinity refuses it off that node."""
    info = node("n").capacity(cpu="8").label(HOSTNAME, "n").info()
    snapshot = Snapshot([info])
    nominator = Nominator()
    promised = pod("db").container(cpu="1").priority(1000).label("app", "db").build()
    nominator.add(promised, "n")
    fw = framework(snapshot, nominator)
    state = CycleState()
    preemptor = refusing_db()
    _, status = fw.run_pre_filter(state, preemptor, snapshot.list())
    assert status.is_success
    verdict = fw.run_filter_with_nominated_pods(state, preemptor, info)
    assert verdict.reasons == ["node(s) didn't match pod anti-affinity rules"]
    assert fw.run_filter(state, preemptor, info).is_success, "the state itself is untouched"


def test_removing_then_adding_each_pod_judges_every_node_as_a_fresh_snapshot_would():
    """RemovePod and AddPod against the truth: PreFilter over the nodes without
    (or with) the pod, for affinity, anti-affinity, existing anti-affinity and
    topology spread across zones and hosts."""
    zone = "topology.kubernetes.io/zone"
    db, web = {"matchLabels": {"app": "db"}}, {"matchLabels": {"app": "web"}}
    pods_by_node = {
        "a1": [pod("db-1").label("app", "db").build()],
        "a2": [pod("guard").label("app", "cache").pod_affinity(zone, web, anti=True).build()],
        "b1": [pod("web-1").label("app", "web").build()],
        "b2": [pod("db-2").label("app", "db").build(), pod("other").build()],
    }
    preemptors = [
        pod("p1").label("app", "web").pod_affinity(HOSTNAME, db, anti=True).build(),
        pod("p2").pod_affinity(zone, db).pod_affinity(zone, web).build(),
        pod("p3").label("app", "web").pod_affinity(zone, db, anti=True).build(),
        pod("p4").label("app", "db").spread(1, zone, selector=db).build(),
        pod("p5").label("app", "db").spread(1, HOSTNAME, selector=db, minDomains=5).build(),
        pod("p6").label("app", "web").spread(1, zone, selector=web).build(),
    ]

    def infos(without: str = "") -> list[NodeInfo]:
        built = []
        for name, pods in pods_by_node.items():
            shape = node(name).capacity(cpu="8").label(HOSTNAME, name).label(zone, name[0])
            built.append(shape.info(*(p for p in pods if p["metadata"]["name"] != without)))
        return built

    def verdicts(fw: Framework, state: CycleState, preemptor: dict, nodes: list[NodeInfo]):
        return [fw.run_filter(state, preemptor, info).reasons for info in nodes]

    for preemptor in preemptors:
        for node_name, pods in pods_by_node.items():
            for victim in pods:
                name = victim["metadata"]["name"]
                full = infos()
                fw = framework(Snapshot(full))
                state = CycleState()
                fw.run_pre_filter(state, preemptor, full)
                removed = state.clone()
                target = next(info for info in full if info.name == node_name).copy()
                target.remove_pod(victim)
                fw.run_remove_pod(removed, preemptor, PodInfo.of(victim), target)

                truth_nodes = infos(without=name)
                truth_fw = framework(Snapshot(truth_nodes))
                truth = CycleState()
                truth_fw.run_pre_filter(truth, preemptor, truth_nodes)
                case = f"{preemptor['metadata']['name']} without {name}"
                assert verdicts(fw, removed, preemptor, truth_nodes) == verdicts(
                    truth_fw, truth, preemptor, truth_nodes
                ), case

                target.add_pod(victim)
                fw.run_add_pod(removed, preemptor, PodInfo.of(victim), target)
                assert verdicts(fw, removed, preemptor, full) == verdicts(
                    fw, state, preemptor, full
                ), f"{case}, then back"
