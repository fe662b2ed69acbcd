"""PodTopologySpread and InterPodAffinity judge and score every node at once
exactly as node by node, and as they did before they counted over the node
table (tests/unit/scheduler/per_node_reference.py).

Random clusters (zones, racks with an empty value, nodes missing labels,
taints, pods in several namespaces, terminating pods, pods with affinity
terms of every kind) and random incoming pods are checked over several
rounds in which nodes gain and lose pods and labels and namespaces change
labels, so counts kept from one cycle to the next must follow.
"""

from __future__ import annotations

import copy
import random
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynetes.api.labels import selector_from_set
from pynetes.client.rest import ApiClient
from pynetes.scheduler.algorithm import Algorithm
from pynetes.scheduler.config import SchedulerConfiguration
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from pynetes.scheduler.plugins.inter_pod_affinity.plugin import parse_args as affinity_args
from pynetes.scheduler.plugins.pod_topology_spread import PodTopologySpread
from pynetes.scheduler.plugins.pod_topology_spread.args import (
    SYSTEM_DEFAULT_CONSTRAINTS,
    parse_args,
)
from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
    default_constraints,
    pod_constraints,
)
from pynetes.scheduler.plugins.pod_topology_spread.scoring import (
    normalize,
    normalize_rows,
    pre_score_state,
    score_node,
    score_rows,
)
from pynetes.scheduler.plugins.registry import in_tree_registry
from tests.unit.scheduler import per_node_reference as reference
from tests.unit.scheduler.builders import expression, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
RACK = "rack"
KEYS = (ZONE, HOST, RACK)
APPS = ("web", "db", "cache")
Object = dict[str, Any]
#: Seeds of the random clusters (hypothesis keeps those that failed, to try them first).
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def selector(rng: random.Random) -> dict[str, Any] | None:
    return rng.choice(
        [
            {"matchLabels": {"app": rng.choice(APPS)}},
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]},
            {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
            {},
            None,
        ]
    )


def affinity_terms(built: Any, rng: random.Random, weights: bool = True) -> None:
    """Up to three pod (anti-)affinity terms, required or preferred, some
    across namespaces or selecting namespaces by label."""
    for _ in range(rng.randrange(4)):
        extra: dict[str, Any] = {}
        scope = rng.random()
        if scope < 0.2:
            extra["namespaces"] = ["default", "other"]
        elif scope < 0.35:
            extra["namespaceSelector"] = rng.choice([{}, {"matchLabels": {"team": "a"}}])
        built.pod_affinity(
            rng.choice(KEYS),
            selector(rng),
            anti=rng.random() < 0.6,
            weight=rng.randrange(1, 100) if weights and rng.random() < 0.5 else 0,
            **extra,
        )


def existing_pod(rng: random.Random, name: str) -> Object:
    built = pod(name).namespace(rng.choice(["default", "other", "bare"]))
    built.label("app", rng.choice(APPS))
    if rng.random() < 0.4:
        built.label("tier", rng.choice(["front", "back"]))
    if rng.random() < 0.4:
        affinity_terms(built, rng)
    obj = built.build()
    if rng.random() < 0.08:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return obj


def random_node(rng: random.Random, index: int) -> NodeInfo:
    built = node(f"n{index}")
    if rng.random() < 0.85:
        built.label(ZONE, rng.choice("abc"))
    if rng.random() < 0.5:
        built.label(RACK, rng.choice(["r1", "r2", ""]))
    if rng.random() < 0.1:
        del built.obj["metadata"]["labels"][HOST]
    if rng.random() < 0.2:
        built.taint("gpu", "yes", rng.choice(["NoSchedule", "PreferNoSchedule"]))
    return built.info(*(existing_pod(rng, f"p{index}-{n}") for n in range(rng.randrange(5))))


def incoming_pod(rng: random.Random) -> Object:
    built = pod("incoming").namespace(rng.choice(["default", "other"]))
    built.label("app", rng.choice(APPS))
    if rng.random() < 0.5:
        built.label("tier", rng.choice(["front", "back"]))
    for _ in range(rng.randrange(4)):
        extra: dict[str, Any] = {}
        if rng.random() < 0.3:
            extra["minDomains"] = rng.randrange(1, 5)
        if rng.random() < 0.3:
            extra["nodeAffinityPolicy"] = rng.choice(["Honor", "Ignore"])
        if rng.random() < 0.3:
            extra["nodeTaintsPolicy"] = rng.choice(["Honor", "Ignore"])
        if rng.random() < 0.2:
            extra["matchLabelKeys"] = ["tier"]
        when = rng.choice([DO_NOT_SCHEDULE, SCHEDULE_ANYWAY])
        built.spread(rng.randrange(1, 4), rng.choice(KEYS), when, selector(rng), **extra)
    if rng.random() < 0.15:
        built.node_selector(**{ZONE: "a"})
    if rng.random() < 0.15:
        built.required_affinity(expression(RACK, "In", "r1", "r2"))
    if rng.random() < 0.3:
        built.toleration("gpu", "yes", "NoSchedule")
    if rng.random() < 0.6:
        affinity_terms(built, rng)
    return built.build()


def again_or_anew(rng: random.Random, incoming: Object | None) -> Object:
    """The last incoming pod again (the counts it asked for were kept) or a new one."""
    if incoming is not None and rng.random() < 0.5:
        return incoming
    return incoming_pod(rng)


def change(snapshot: Snapshot, rng: random.Random, namespaces: dict[str, dict[str, str]]) -> None:
    """A few nodes gain or lose pods or labels; a namespace may be relabelled."""
    for info in rng.sample(snapshot.list(), k=min(3, len(snapshot))):
        changed = info.copy()
        for _ in range(rng.randrange(3)):
            if changed.pods and rng.random() < 0.5:
                changed.remove_pod(rng.choice(list(changed.pods.values())).pod)
            else:
                changed.add_pod(existing_pod(rng, f"new-{rng.randrange(10**9)}"))
        if rng.random() < 0.3:
            relabelled = copy.deepcopy(changed.node)
            assert relabelled is not None
            relabelled["metadata"]["labels"][ZONE] = rng.choice("abcd")
            changed.set_node(relabelled)
        snapshot.put(changed)
    if rng.random() < 0.3:
        namespaces["other"] = rng.choice([{"team": "a"}, {"team": "b"}])


def verdict(status: Status) -> str:
    return reference.OK if status.is_success else status.reasons[0]


def check_filter(plugin: Any, snapshot: Snapshot, incoming: Object, expected: dict[str, str]):
    """The plugin's PreFilter, then Filter node by node and at once, against ``expected``."""
    nodes, state = snapshot.list(), CycleState()
    _, status = plugin.pre_filter(state, incoming, nodes)
    if status.is_skip:
        assert set(expected.values()) <= {reference.OK}
        return
    assert {info.name: verdict(plugin.filter(state, incoming, info)) for info in nodes} == expected
    passing = plugin.filter_many(state, incoming, snapshot.table())
    assert dict(zip([info.name for info in nodes], passing.tolist(), strict=True)) == {
        name: found == reference.OK for name, found in expected.items()
    }


def both_ways(plugin: Any, state: CycleState, incoming: Object, snapshot: Snapshot, feasible):
    """The normalized scores of ``feasible`` node by node, and at once."""
    one_by_one = {info.name: plugin.score(state, incoming, info) for info in feasible}
    plugin.normalize_scores(state, incoming, one_by_one)
    table = snapshot.table()
    column = plugin.score_many(state, incoming, table, table.rows_of(feasible))
    at_once = plugin.normalize_many(state, incoming, column)
    return one_by_one, dict(zip([info.name for info in feasible], at_once.tolist(), strict=True))


@SETTINGS
@given(SEEDS)
def test_pod_topology_spread_counts_as_node_by_node(seed: int):
    rng = random.Random(seed)
    snapshot = Snapshot([random_node(rng, index) for index in range(rng.randrange(1, 25))])
    spread = PodTopologySpread(parse_args(None), Handle(None, lambda: snapshot))
    incoming = None
    for _round in range(3):
        incoming = again_or_anew(rng, incoming)
        nodes = snapshot.list()
        hard = pod_constraints(incoming, DO_NOT_SCHEDULE)
        check_filter(spread, snapshot, incoming, reference.spread_filter(incoming, hard, nodes))
        feasible = rng.sample(nodes, k=rng.randrange(1, len(nodes) + 1))
        state = CycleState()
        soft = pod_constraints(incoming, SCHEDULE_ANYWAY)
        if spread.pre_score(state, incoming, feasible).is_skip:
            assert not soft
        else:
            expected = reference.spread_scores(incoming, soft, feasible, nodes, True)
            assert both_ways(spread, state, incoming, snapshot, feasible) == (expected, expected)
        change(snapshot, rng, {})


@SETTINGS
@given(SEEDS)
def test_system_default_spreading_scores_as_node_by_node(seed: int):
    """Under the system defaults nodes need not have every key: a node without
    a zone still spreads by hostname, and counts as the zone ""."""
    rng = random.Random(seed)
    snapshot = Snapshot([random_node(rng, index) for index in range(rng.randrange(1, 25))])
    incoming = None
    for _round in range(3):
        incoming = again_or_anew(rng, incoming)
        workload = selector_from_set({"app": rng.choice(APPS)})
        constraints = default_constraints(
            incoming, SYSTEM_DEFAULT_CONSTRAINTS, SCHEDULE_ANYWAY, workload
        )
        nodes, table = snapshot.list(), snapshot.table()
        feasible = rng.sample(nodes, k=rng.randrange(1, len(nodes) + 1))
        state = pre_score_state(incoming, constraints, feasible, table, False)
        one_by_one = {info.name: score_node(state, info) for info in feasible}
        normalize(state, one_by_one)
        at_once = normalize_rows(state, score_rows(state, table, table.rows_of(feasible)))
        expected = reference.spread_scores(incoming, constraints, feasible, nodes, False)
        assert one_by_one == expected
        assert (
            dict(zip([info.name for info in feasible], at_once.tolist(), strict=True)) == expected
        )
        change(snapshot, rng, {})


@SETTINGS
@given(SEEDS)
def test_inter_pod_affinity_counts_as_node_by_node(seed: int):
    rng = random.Random(seed)
    snapshot = Snapshot([random_node(rng, index) for index in range(rng.randrange(1, 25))])
    namespaces = {"default": {"team": "a"}, "other": {"team": "b"}}

    def namespace_labels(name: str) -> dict[str, str]:
        return namespaces.get(name, {})

    args = {
        "hardPodAffinityWeight": rng.randrange(3),
        "ignorePreferredTermsOfExistingPods": rng.random() < 0.3,
    }
    handle = Handle(None, lambda: snapshot)
    affinity = InterPodAffinity(affinity_args(args), handle, namespace_labels)
    incoming = None
    for _round in range(4):
        incoming = again_or_anew(rng, incoming)
        nodes = snapshot.list()
        expected = reference.affinity_filter(incoming, nodes, namespace_labels)
        check_filter(affinity, snapshot, incoming, expected)
        feasible = rng.sample(nodes, k=rng.randrange(1, len(nodes) + 1))
        state = CycleState()
        scores = reference.affinity_scores(
            incoming, feasible, nodes, namespace_labels, affinity.args
        )
        if affinity.pre_score(state, incoming, feasible).is_skip:
            assert scores is None
        else:
            assert both_ways(affinity, state, incoming, snapshot, feasible) == (scores, scores)
        change(snapshot, rng, namespaces)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEEDS)
def test_whole_decisions_are_the_same_as_node_by_node(seed: int):
    """The default profile schedules the same way with every plugin node by
    node: the same verdicts, nodes evaluated and scores."""
    rng = random.Random(seed)
    snapshot = Snapshot([random_node(rng, index) for index in range(rng.randrange(1, 150))])
    profile = SchedulerConfiguration().profiles[0]
    client = cast(ApiClient, object())  # nothing is bound
    vectorised = Framework(profile, in_tree_registry(), Handle(client, lambda: snapshot))
    plain = Framework(profile, in_tree_registry(), Handle(client, lambda: snapshot))
    plain.run_filter_many = lambda *_args: None  # type: ignore[method-assign]
    plain._vector_scores = set()
    seed = rng.randrange(2**32)
    fast, slow = Algorithm(random.Random(seed)), Algorithm(random.Random(seed))
    incoming = None
    for _cycle in range(3):
        incoming = again_or_anew(rng, incoming)
        got = fast.schedule(vectorised, CycleState(), incoming, snapshot, 0)
        want = slow.schedule(plain, CycleState(), incoming, snapshot, 0)
        assert {name: verdict(s) for name, s in got.diagnosis.statuses.items()} == {
            name: verdict(s) for name, s in want.diagnosis.statuses.items()
        }
        assert got.diagnosis.evaluated == want.diagnosis.evaluated
        assert dict(got.scores) == dict(want.scores)
        if not want.scores:
            assert got.node == want.node
        change(snapshot, rng, {})


def test_kept_counts_are_recounted_only_on_the_nodes_that_changed():
    snapshot = Snapshot(
        [node(f"n{index}").label(ZONE, "a").info(pod(f"p{index}").build()) for index in range(3)]
    )
    table = snapshot.table()
    counted: list[str] = []

    def count(info: NodeInfo) -> dict[str, int]:
        counted.append(info.name)
        return {"pods": len(info.pods)}

    assert table.counts("question", count)["pods"].tolist() == [1, 1, 1]
    assert counted == ["n0", "n1", "n2"]
    domains = table.domains(ZONE)
    changed = snapshot.list()[1].copy()
    changed.add_pod(pod("another").build())
    relabelled = copy.deepcopy(changed.node)
    assert relabelled is not None
    relabelled["metadata"]["labels"][ZONE] = "b"
    changed.set_node(relabelled)
    snapshot.put(changed)
    counted.clear()
    assert snapshot.table() is table
    assert table.counts("question", count)["pods"].tolist() == [1, 2, 1]
    assert counted == ["n1"]
    assert table.domains(ZONE) is domains
    assert [domains.values[found] for found in domains.ids.tolist()] == ["a", "b", "a"]
