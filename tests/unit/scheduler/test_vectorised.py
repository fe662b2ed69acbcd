"""The vectorised filter and score path makes the plain path's decisions.

Random clusters (cordoned, tainted, full and busy nodes) and pods (requests,
best-effort, tolerations, preferred node affinity, a named node) are
scheduled both ways, with Filter and Score plugins that have a vectorised
form and some that go node by node beside them; everything but the draw among
equally scored nodes must agree.
"""

import random
from typing import Any

import numpy as np
import pytest

from pynetes.scheduler.algorithm import Algorithm, Outcome
from pynetes.scheduler.cache import SchedulerCache
from pynetes.scheduler.config import parse
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import NodeTable
from pynetes.scheduler.framework.runtime import Framework, ScoreColumns
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.plugins.registry import in_tree_registry
from tests.unit.scheduler.builders import expression, node, pod

HEADER = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def strategy(scoring: dict[str, Any]) -> dict[str, Any]:
    """A profile whose NodeResourcesFit scores with ``scoring``."""
    args = {"scoringStrategy": scoring}
    return {"profiles": [{"pluginConfig": [{"name": "NodeResourcesFit", "args": args}]}]}


MOST_ALLOCATED = strategy({"type": "MostAllocated"})
#: No vectorised form: NodeResourcesFit scores node by node beside the others.
RATIO = strategy(
    {
        "type": "RequestedToCapacityRatio",
        "requestedToCapacityRatio": {
            "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
        },
    }
)


def framework(document: dict[str, Any]) -> Framework:
    config = parse({**HEADER, **document})
    return Framework(config.profiles[0], in_tree_registry(), Handle(object(), Snapshot))  # type: ignore[arg-type]


def random_node(rng: random.Random, index: int) -> NodeInfo:
    built = node(f"n{index}").capacity(
        cpu=rng.choice(["1", "2", "4"]),
        memory=rng.choice(["1Gi", "4Gi", "32Gi"]),
        pods=rng.choice(["2", "110"]),
    )
    built.label("zone", rng.choice(["a", "b"]))
    if rng.random() < 0.1:
        built.unschedulable()
    if rng.random() < 0.15:
        built.taint("gpu", "yes", "NoSchedule")
    if rng.random() < 0.2:
        built.taint("spot", "", "PreferNoSchedule")
    pods = [
        pod(f"on-{index}-{n}").container(cpu=rng.choice(["100m", "500m", "1"])).build()
        for n in range(rng.randrange(4))
    ]
    return built.info(*pods)


def random_pod(rng: random.Random, nodes: int) -> dict[str, Any]:
    built = pod("incoming")
    if rng.random() < 0.8:
        built.container(cpu=rng.choice(["100m", "1", "3"]), memory=rng.choice(["500Mi", "8Gi"]))
    else:
        built.container()  # best-effort: scored at the defaults
    if rng.random() < 0.3:
        built.toleration("gpu", "yes", "NoSchedule")
    if rng.random() < 0.3:
        built.toleration("spot", effect="PreferNoSchedule")
    if rng.random() < 0.2:  # NodeAffinity filters, node by node
        built.node_selector(zone="b")
    if rng.random() < 0.3:  # NodeAffinity scores, node by node
        built.preferred_affinity(rng.randrange(1, 100), expression("zone", "In", "a"))
    if rng.random() < 0.05:
        built.node_name(f"n{rng.randrange(nodes)}")
    return built.build()


def verdicts(outcome: Outcome) -> dict[str, tuple[int, list[str], str]]:
    return {
        name: (status.code, status.reasons, status.plugin)
        for name, status in outcome.diagnosis.statuses.items()
    }


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("document", [{}, MOST_ALLOCATED, RATIO], ids=["least", "most", "ratio"])
def test_same_decisions_as_node_by_node(seed: int, document: dict[str, Any], monkeypatch):
    rng = random.Random(seed)
    snapshot = Snapshot([random_node(rng, index) for index in range(rng.choice([5, 150, 300]))])
    vectorised, plain = framework(document), framework(document)
    monkeypatch.setattr(plain, "run_filter_many", lambda *_args: None)
    fast, slow = Algorithm(random.Random(seed)), Algorithm(random.Random(seed))
    for _cycle in range(3):
        incoming = random_pod(rng, len(snapshot))
        got = fast.schedule(vectorised, CycleState(), incoming, snapshot, 0)
        want = slow.schedule(plain, CycleState(), incoming, snapshot, 0)
        assert verdicts(got) == verdicts(want)
        assert got.diagnosis.evaluated == want.diagnosis.evaluated
        assert fast._next_start == slow._next_start
        assert dict(got.scores) == dict(want.scores)
        if want.scores:
            assert isinstance(got.scores, ScoreColumns)  # the vectorised path ran
            best = max(scores.total for scores in want.scores.values())
            assert want.scores[got.node].total == best  # type: ignore[index]
        else:
            assert got.node == want.node


def test_the_snapshot_table_follows_the_cache_row_by_row():
    cache = SchedulerCache()
    for index in range(4):
        cache.add_node(node(f"n{index}").capacity(cpu="4", memory="1Gi").build())
    snapshot = Snapshot()
    cache.update_snapshot(snapshot)
    table = snapshot.table()
    cache.assume_pod(pod("p").container(cpu="1", memory="100Mi").build(), "n2")
    cache.update_node(node("n1").capacity(cpu="8").taint("gpu").unschedulable().build())
    cache.update_snapshot(snapshot)
    assert snapshot.table() is table  # updated in place, not rebuilt
    fresh = NodeTable(snapshot.list())
    for column in ("requested_cpu", "allocatable_cpu", "pod_count", "hard_taints"):
        assert np.array_equal(getattr(table, column), getattr(fresh, column)), column
    assert table.requested_cpu.tolist() == [0, 0, 1000, 0]
    assert table.unschedulable.tolist() == [False, True, False, False]
