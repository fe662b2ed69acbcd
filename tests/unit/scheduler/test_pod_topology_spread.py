import pytest

from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.pod_topology_spread import PodTopologySpread
from pynetes.scheduler.plugins.pod_topology_spread.args import parse_args
from tests.unit.scheduler.builders import expression, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
WEB = {"matchLabels": {"app": "web"}}
NOT_MATCH = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"


def web(name: str):
    return pod(name).label("app", "web")


def cluster(placement: dict[str, int], **extra_nodes):
    """Nodes a1, a2 (zone a), b1 (zone b), c1 (zone c) with ``placement`` web pods each."""
    zones = {"a1": "a", "a2": "a", "b1": "b", "c1": "c"}
    infos = []
    for name, zone in zones.items():
        pods = [web(f"{name}-{i}").build() for i in range(placement.get(name, 0))]
        infos.append(node(name).label(ZONE, zone).info(*pods))
    infos.extend(builder.info() for builder in extra_nodes.values())
    return infos


def plugin(infos, args=None) -> PodTopologySpread:
    return PodTopologySpread(parse_args(args), Handle(None, lambda: Snapshot(infos)))


def feasible(spread, incoming, infos) -> dict[str, str]:
    """Each node's verdict: "ok" or the rejection's reason."""
    state = CycleState()
    _, status = spread.pre_filter(state, incoming.build(), infos)
    assert status.is_success
    verdicts = {}
    for info in infos:
        result = spread.filter(state, incoming.build(), info)
        verdicts[info.name] = "ok" if result.is_success else result.reasons[0]
    return verdicts


@pytest.mark.parametrize(
    ("placement", "incoming", "expected"),
    [
        # zone counts a=2 b=1 c=1: maxSkew 1 keeps zone a out
        (
            {"a1": 1, "a2": 1, "b1": 1, "c1": 1},
            web("p").spread(1, ZONE, selector=WEB),
            {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": "ok", "c1": "ok"},
        ),
        (
            {"a1": 1, "a2": 1, "b1": 1, "c1": 1},
            web("p").spread(2, ZONE, selector=WEB),
            {"a1": "ok", "a2": "ok", "b1": "ok", "c1": "ok"},
        ),
        # a pod the selector does not match adds no skew of its own
        (
            {"a1": 1, "b1": 1},
            pod("p").spread(1, ZONE, selector=WEB),
            {"a1": "ok", "a2": "ok", "b1": "ok", "c1": "ok"},
        ),
        # hostname: each node is a domain
        (
            {"a1": 1, "b1": 1, "c1": 1},
            web("p").spread(1, HOST, selector=WEB),
            {"a1": NOT_MATCH, "a2": "ok", "b1": NOT_MATCH, "c1": NOT_MATCH},
        ),
        # minDomains above the domains there are makes the global minimum 0
        (
            {"a1": 1, "b1": 1, "c1": 1},
            web("p").spread(1, ZONE, selector=WEB, minDomains=4),
            {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": NOT_MATCH, "c1": NOT_MATCH},
        ),
        # nodeAffinityPolicy Honor: zone c is out of the pod's reach, so its 0 is no minimum
        (
            {"a1": 1, "b1": 1},
            web("p")
            .spread(1, ZONE, selector=WEB)
            .required_affinity(expression(ZONE, "In", "a", "b")),
            {"a1": "ok", "a2": "ok", "b1": "ok", "c1": "ok"},
        ),
        (
            {"a1": 1, "b1": 1},
            web("p")
            .spread(1, ZONE, selector=WEB, nodeAffinityPolicy="Ignore")
            .required_affinity(expression(ZONE, "In", "a", "b")),
            {"a1": NOT_MATCH, "a2": NOT_MATCH, "b1": NOT_MATCH, "c1": "ok"},
        ),
        # matchLabelKeys narrows the selector to the pod's own value
        (
            {"a1": 2},
            web("p").label("rev", "2").spread(1, ZONE, selector=WEB, matchLabelKeys=["rev"]),
            {"a1": "ok", "a2": "ok", "b1": "ok", "c1": "ok"},
        ),
    ],
)
def test_filter(placement, incoming, expected):
    infos = cluster(placement)
    assert feasible(plugin(infos), incoming, infos) == expected


def test_node_without_the_key_is_unresolvable():
    infos = cluster({}, bare=node("bare"))
    spread = plugin(infos)
    incoming = web("p").spread(1, ZONE, selector=WEB)
    assert feasible(spread, incoming, infos)["bare"] == MISSING
    state = CycleState()
    spread.pre_filter(state, incoming.build(), infos)
    assert (
        spread.filter(state, incoming.build(), infos[-1]).code
        == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    )


def test_node_taints_policy_honor_leaves_out_tainted_domains():
    infos = cluster({"a1": 1, "b1": 1, "c1": 1}, tainted=node("d1").label(ZONE, "d").taint("x"))
    # Ignore (the default): the tainted, empty zone d is the minimum
    ignored = feasible(plugin(infos), web("p").spread(1, ZONE, selector=WEB), infos)
    assert ignored == {
        "a1": NOT_MATCH,
        "a2": NOT_MATCH,
        "b1": NOT_MATCH,
        "c1": NOT_MATCH,
        "d1": "ok",
    }
    honored = web("p").spread(1, ZONE, selector=WEB, nodeTaintsPolicy="Honor")
    verdicts = feasible(plugin(infos), honored, infos)
    assert verdicts == {"a1": "ok", "a2": "ok", "b1": "ok", "c1": "ok", "d1": "ok"}


def test_other_namespaces_and_terminating_pods_do_not_count():
    other = web("x").namespace("other").build()
    leaving = web("y").build()
    leaving["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    infos = [node("a1").label(ZONE, "a").info(other, leaving), node("b1").label(ZONE, "b").info()]
    verdicts = feasible(plugin(infos), web("p").spread(1, ZONE, selector=WEB), infos)
    assert verdicts == {"a1": "ok", "b1": "ok"}


@pytest.mark.parametrize(
    ("incoming", "skips"),
    [
        (pod("p"), True),
        (pod("p").spread(1, ZONE, "ScheduleAnyway", WEB), True),
        (pod("p").spread(1, ZONE, selector=WEB), False),
    ],
)
def test_pre_filter_skips_without_hard_constraints(incoming, skips):
    _, status = plugin([]).pre_filter(CycleState(), incoming.build(), [])
    assert status.is_skip == skips


def scores(spread, incoming, feasible_nodes) -> dict[str, int]:
    state = CycleState()
    status = spread.pre_score(state, incoming.build(), feasible_nodes)
    if status.is_skip:
        return {}
    raw = {info.name: spread.score(state, incoming.build(), info) for info in feasible_nodes}
    spread.normalize_scores(state, incoming.build(), raw)
    return raw


@pytest.mark.parametrize(
    ("placement", "incoming", "expected"),
    [
        # zone counts a=3 b=1 c=0, weight log(3+2): raw a=4.83->5, b=2, c=0
        (
            {"a1": 2, "a2": 1, "b1": 1},
            web("p").spread(1, ZONE, "ScheduleAnyway", WEB),
            {"a1": 0, "a2": 0, "b1": 60, "c1": 100},
        ),
        # hostname counts are each node's own
        (
            {"a1": 2, "b1": 1},
            web("p").spread(1, HOST, "ScheduleAnyway", WEB),
            {"a1": 0, "a2": 100, "b1": 50, "c1": 100},
        ),
        # all equal: everyone gets the maximum
        (
            {},
            web("p").spread(1, ZONE, "ScheduleAnyway", WEB),
            {"a1": 100, "a2": 100, "b1": 100, "c1": 100},
        ),
        # no soft constraint: Skip
        ({"a1": 1}, web("p").spread(1, ZONE, selector=WEB), {}),
    ],
)
def test_score(placement, incoming, expected):
    infos = cluster(placement)
    assert scores(plugin(infos), incoming, infos) == expected


def test_score_counts_domains_over_all_nodes_but_scores_feasible_ones():
    infos = cluster({"a2": 3, "b1": 1})
    feasible_nodes = [info for info in infos if info.name in ("a1", "b1")]
    result = scores(plugin(infos), web("p").spread(1, ZONE, "ScheduleAnyway", WEB), feasible_nodes)
    # 2 domains: weight log 4; a=3 -> 4.16 -> 4, b=1 -> 1.39 -> 1
    assert result == {"a1": 25, "b1": 100}


def test_nodes_missing_a_key_score_zero():
    infos = cluster({"a1": 1}, bare=node("bare"))
    result = scores(plugin(infos), web("p").spread(1, ZONE, "ScheduleAnyway", WEB), infos)
    assert result["bare"] == 0 and result["b1"] == 100


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"defaultingType": "Other"}, "defaultingType: Unsupported"),
        (
            {"defaultingType": "System", "defaultConstraints": [{"maxSkew": 1}]},
            "defaultConstraints must be empty",
        ),
        (
            {"defaultingType": "List", "defaultConstraints": [{"maxSkew": 0, "topologyKey": ZONE}]},
            r"defaultConstraints\[0\].maxSkew",
        ),
        (
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"},
                    {"maxSkew": 2, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"},
                ],
            },
            r"defaultConstraints\[1\]: Duplicate",
        ),
        (
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": ZONE,
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {},
                    },
                ],
            },
            r"defaultConstraints\[0\].labelSelector: Forbidden",
        ),
    ],
)
def test_invalid_args_name_the_field(args, error):
    with pytest.raises(ValueError, match=error):
        parse_args(args)
