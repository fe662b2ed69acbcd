"""PodTopologySpread's default constraints and upstream's DefaultSelector."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.client.cache.indexer import Indexer
from pynetes.client.cache.lister import Lister
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.plugins.pod_topology_spread import PodTopologySpread
from pynetes.scheduler.plugins.pod_topology_spread.args import parse_args
from pynetes.scheduler.plugins.pod_topology_spread.defaults import (
    WorkloadListers,
    default_selector,
)
from tests.unit.scheduler.builders import node, pod
from tests.unit.scheduler.helpers import run_score

ZONE = "topology.kubernetes.io/zone"
NOT_MATCH = "node(s) didn't match pod topology spread constraints"


def obj(kind: str, name: str, spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def listers(*objects: dict[str, Any]) -> WorkloadListers:
    """Listers over stores holding ``objects``, each in its kind's store."""
    stores = {kind: Indexer() for kind in ("Service", "ReplicationController", "RS", "SS")}
    aliases = {"ReplicaSet": "RS", "StatefulSet": "SS"}
    for item in objects:
        stores[aliases.get(item["kind"], item["kind"])].upsert(item)
    return WorkloadListers(*(Lister(store) for store in stores.values()))


WORKLOADS = listers(
    obj("Service", "web", {"selector": {"app": "web"}}),
    obj("Service", "all-tiers", {"selector": {"tier": "fe"}}),
    obj("Service", "headless", {}),
    obj("Service", "elsewhere", {"selector": {"app": "web", "env": "x"}}, namespace="other"),
    obj("ReplicaSet", "web-rs", {"selector": {"matchLabels": {"app": "web"}}}),
    obj(
        "StatefulSet",
        "db",
        {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]}},
    ),
    obj("ReplicaSet", "no-selector", {}),
    obj("ReplicationController", "legacy", {"selector": {"app": "web", "rc": "legacy"}}),
)


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        # owned by nothing and behind no Service: no group to spread from
        (pod("p").label("app", "api"), ""),
        # the Services selecting the pod, merged; a selector-less Service selects nothing
        (pod("p").label("app", "web"), "app=web"),
        (pod("p").label("app", "web").label("tier", "fe"), "app=web,tier=fe"),
        # a Service of another namespace does not count
        (pod("p").label("app", "web").label("env", "x").namespace("default"), "app=web"),
        # the controlling ReplicaSet's selector is ANDed
        (pod("p").label("app", "api").owner("ReplicaSet", "web-rs"), "app=web"),
        (pod("p").label("tier", "fe").owner("StatefulSet", "db"), "app in (db),tier=fe"),
        # a ReplicationController's map selector is merged into the Services'
        (
            pod("p").label("app", "web").owner("ReplicationController", "legacy", "v1"),
            "app=web,rc=legacy",
        ),
        # an unknown controller, a controller without a selector, another apiVersion
        (pod("p").label("app", "web").owner("ReplicaSet", "gone"), "app=web"),
        (pod("p").label("app", "api").owner("ReplicaSet", "no-selector"), ""),
        (pod("p").label("app", "api").owner("ReplicaSet", "web-rs", "apps/v1beta2"), ""),
    ],
)
def test_default_selector(incoming, expected):
    assert str(default_selector(incoming.build(), WORKLOADS)) == expected


def test_without_listers_nothing_selects_a_pod():
    assert default_selector(pod("p").owner("ReplicaSet", "web-rs").build(), None).empty


def web(name: str):
    return pod(name).label("app", "web")


def cluster(placement: dict[str, int], *extra):
    """Nodes a1, a2 (zone a), b1 (zone b), c1 (zone c) with ``placement`` web pods each."""
    zones = {"a1": "a", "a2": "a", "b1": "b", "c1": "c"}
    infos = [
        node(name).label(ZONE, zone).info(*(web(f"{name}-{i}").build() for i in range(count)))
        for name, zone in zones.items()
        for count in [placement.get(name, 0)]
    ]
    return infos + [builder.info() for builder in extra]


def plugin(infos, args=None) -> PodTopologySpread:
    return PodTopologySpread(parse_args(args), Handle(None, lambda: Snapshot(infos)), WORKLOADS)


@pytest.mark.parametrize(
    ("placement", "extra", "expected"),
    [
        # hostname (maxSkew 3, weight log 6) plus zone (maxSkew 5, weight log 5):
        # raw a1 = 2*1.79+2 + 2*1.61+4 = 12.8 -> 13, a2 = 9, b1 = 9.4 -> 9, c1 = 6
        ({"a1": 2, "b1": 1}, (), {"a1": 46, "a2": 76, "b1": 76, "c1": 100}),
        # a node without a zone still scores, by hostname only, under the system
        # defaults (its empty zone counts as a domain): raw a1 = 13, a2 = 10,
        # b1 = c1 = 6, bare = 2
        (
            {"a1": 2},
            (node("bare"),),
            {"a1": 15, "a2": 38, "b1": 69, "c1": 69, "bare": 100},
        ),
    ],
)
def test_system_defaults_spread_a_replica_set(placement, extra, expected):
    infos = cluster(placement, *extra)
    incoming = web("p").owner("ReplicaSet", "web-rs").build()
    assert run_score(plugin(infos), incoming, infos) == expected


@pytest.mark.parametrize(
    "incoming",
    [
        # nothing selects it
        pod("p").label("app", "api"),
        # its own constraints replace the defaults (here only a hard one: nothing to score)
        web("p").owner("ReplicaSet", "web-rs").spread(1, ZONE, selector={}),
    ],
)
def test_pre_score_skips_without_defaults(incoming):
    infos = cluster({"a1": 1})
    assert plugin(infos).pre_score(CycleState(), incoming.build(), infos).is_skip


LIST_ARGS = {
    "defaultingType": "List",
    "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
    ],
}


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        # the Service's pods: zone a holds two, b and c one each
        (web("p"), {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": "ok", "c1": "ok"}),
        # nothing selects it: PreFilter skips
        (pod("p").label("app", "api"), None),
    ],
)
def test_list_defaults_filter(incoming, expected):
    infos = cluster({"a1": 1, "a2": 1, "b1": 1, "c1": 1})
    spread = plugin(infos, LIST_ARGS)
    state = CycleState()
    _, status = spread.pre_filter(state, incoming.build(), infos)
    if expected is None:
        assert status.is_skip
        return
    verdicts = {}
    for info in infos:
        result = spread.filter(state, incoming.build(), info)
        verdicts[info.name] = "ok" if result.is_success else result.reasons[0]
    assert verdicts == expected


def test_system_defaults_never_filter():
    infos = cluster({"a1": 5})
    _, status = plugin(infos).pre_filter(CycleState(), web("p").build(), infos)
    assert status.is_skip
