import pytest

from pynetes.scheduler.framework.affinity_terms import PodTerms
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Code
from pynetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from pynetes.scheduler.plugins.inter_pod_affinity.plugin import parse_args
from tests.unit.scheduler.builders import node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
WEB = {"matchLabels": {"app": "web"}}
DB = {"matchLabels": {"app": "db"}}
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"
NAMESPACE_LABELS = {"default": {"team": "a"}, "other": {"team": "b"}}


def labelled(name: str, app: str):
    return pod(name).label("app", app)


def cluster(placement: dict[str, list]):
    """a1, a2 in zone a, b1 in zone b; ``placement`` puts built pods on them."""
    zones = {"a1": "a", "a2": "a", "b1": "b"}
    return [
        node(name).label(ZONE, zone).info(*(p.build() for p in placement.get(name, [])))
        for name, zone in zones.items()
    ]


def plugin(infos, args=None) -> InterPodAffinity:
    handle = Handle(None, lambda: Snapshot(infos))
    return InterPodAffinity(parse_args(args), handle, lambda name: NAMESPACE_LABELS.get(name, {}))


def verdicts(incoming, infos) -> dict[str, str]:
    spread = plugin(infos)
    state = CycleState()
    built = incoming.build()
    _, status = spread.pre_filter(state, built, infos)
    if status.is_skip:
        return {info.name: "ok" for info in infos}
    result = {}
    for info in infos:
        verdict = spread.filter(state, built, info)
        result[info.name] = "ok" if verdict.is_success else verdict.reasons[0]
    return result


@pytest.mark.parametrize(
    ("placement", "incoming", "expected"),
    [
        # required affinity to db pods in the same zone
        (
            {"a2": [labelled("db", "db")]},
            pod("p").pod_affinity(ZONE, DB),
            {"a1": "ok", "a2": "ok", "b1": AFFINITY},
        ),
        (
            {"a2": [labelled("db", "db")]},
            pod("p").pod_affinity(HOST, DB),
            {"a1": AFFINITY, "a2": "ok", "b1": AFFINITY},
        ),
        # nothing matches, but the pod matches its own term: the first of a group may go anywhere
        ({}, labelled("p", "db").pod_affinity(ZONE, DB), {"a1": "ok", "a2": "ok", "b1": "ok"}),
        ({}, pod("p").pod_affinity(ZONE, DB), {"a1": AFFINITY, "a2": AFFINITY, "b1": AFFINITY}),
        # required anti-affinity keeps the zone of a web pod out
        (
            {"a1": [labelled("web", "web")]},
            labelled("p", "web").pod_affinity(ZONE, WEB, anti=True),
            {"a1": ANTI, "a2": ANTI, "b1": "ok"},
        ),
        # existing pods' anti-affinity: the web pod refuses other web pods on its node
        (
            {"a1": [labelled("web", "web").pod_affinity(HOST, WEB, anti=True)]},
            labelled("p", "web"),
            {"a1": EXISTING, "a2": "ok", "b1": "ok"},
        ),
        (
            {"a1": [labelled("web", "web").pod_affinity(HOST, WEB, anti=True)]},
            labelled("p", "db"),
            {"a1": "ok", "a2": "ok", "b1": "ok"},
        ),
        # terms look in the pod's own namespace unless told otherwise
        (
            {"a1": [labelled("web", "web").namespace("other")]},
            pod("p").pod_affinity(ZONE, WEB, anti=True),
            {"a1": "ok", "a2": "ok", "b1": "ok"},
        ),
        (
            {"a1": [labelled("web", "web").namespace("other")]},
            pod("p").pod_affinity(ZONE, WEB, anti=True, namespaces=["other"]),
            {"a1": ANTI, "a2": ANTI, "b1": "ok"},
        ),
        (
            {"a1": [labelled("web", "web").namespace("other")]},
            pod("p").pod_affinity(
                ZONE, WEB, anti=True, namespaceSelector={"matchLabels": {"team": "b"}}
            ),
            {"a1": ANTI, "a2": ANTI, "b1": "ok"},
        ),
        (
            {"a1": [labelled("web", "web").namespace("other")]},
            pod("p").pod_affinity(ZONE, WEB, anti=True, namespaceSelector={}),
            {"a1": ANTI, "a2": ANTI, "b1": "ok"},
        ),
    ],
)
def test_filter(placement, incoming, expected):
    assert verdicts(incoming, cluster(placement)) == expected


def test_affinity_rejection_is_unresolvable_and_anti_affinity_is_not():
    infos = cluster({"a1": [labelled("web", "web")]})
    spread = plugin(infos)
    for incoming, code in (
        (pod("p").pod_affinity(ZONE, DB), Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (pod("p").pod_affinity(ZONE, WEB, anti=True), Code.UNSCHEDULABLE),
    ):
        state = CycleState()
        spread.pre_filter(state, incoming.build(), infos)
        assert spread.filter(state, incoming.build(), infos[0]).code == code


def test_pre_filter_skips_pods_without_terms_when_no_pod_refuses_anyone():
    _, status = plugin([]).pre_filter(CycleState(), pod("p").build(), cluster({}))
    assert status.is_skip


def scores(incoming, infos, args=None) -> dict[str, int]:
    spread = plugin(infos, args)
    state = CycleState()
    built = incoming.build()
    if spread.pre_score(state, built, infos).is_skip:
        return {}
    raw = {info.name: spread.score(state, built, info) for info in infos}
    spread.normalize_scores(state, built, raw)
    return raw


@pytest.mark.parametrize(
    ("placement", "incoming", "args", "expected"),
    [
        # preferred affinity to the db's zone, preferred anti-affinity to the web's node
        (
            {"a2": [labelled("db", "db")], "b1": [labelled("web", "web")]},
            pod("p").pod_affinity(ZONE, DB, weight=10).pod_affinity(HOST, WEB, anti=True, weight=5),
            None,
            # a1: +10, a2: +10, b1: -5
            {"a1": 100, "a2": 100, "b1": 0},
        ),
        # an existing pod's required affinity to the incoming pod draws it (hardPodAffinityWeight)
        (
            {"b1": [labelled("db", "db").pod_affinity(ZONE, WEB)]},
            labelled("p", "web"),
            None,
            {"a1": 0, "a2": 0, "b1": 100},
        ),
        (
            {"b1": [labelled("db", "db").pod_affinity(ZONE, WEB)]},
            labelled("p", "web"),
            {"hardPodAffinityWeight": 0},
            {},
        ),
        # an existing pod's preferred anti-affinity pushes the incoming pod away
        (
            {"a1": [labelled("db", "db").pod_affinity(HOST, WEB, anti=True, weight=50)]},
            labelled("p", "web"),
            None,
            {"a1": 0, "a2": 100, "b1": 100},
        ),
        (
            {"a1": [labelled("db", "db").pod_affinity(HOST, WEB, anti=True, weight=50)]},
            labelled("p", "web"),
            {"ignorePreferredTermsOfExistingPods": True},
            {},
        ),
        # no terms anywhere: Skip
        ({"a1": [labelled("db", "db")]}, pod("p"), None, {}),
    ],
)
def test_score(placement, incoming, args, expected):
    assert scores(incoming, cluster(placement), args) == expected


def test_invalid_args_name_the_field():
    with pytest.raises(ValueError, match="hardPodAffinityWeight"):
        parse_args({"hardPodAffinityWeight": 101})


def test_existing_pods_terms_are_parsed_once_when_they_enter_the_cache(monkeypatch):
    """A cycle parses only the incoming pod's terms, once for filtering and
    scoring; existing pods' come from their PodInfo."""
    infos = cluster(
        {
            "a1": [labelled("db", "db").pod_affinity(ZONE, WEB, anti=True)],
            "b1": [labelled("cache", "cache").pod_affinity(ZONE, WEB, weight=5)],
        }
    )
    parsed = []
    original = PodTerms.of
    monkeypatch.setattr(PodTerms, "of", lambda pod: parsed.append(pod) or original(pod))
    incoming = labelled("p", "web").build()
    state = CycleState()
    affinity = plugin(infos)
    affinity.pre_filter(state, incoming, infos)
    affinity.pre_score(state, incoming, infos)
    assert parsed == [incoming]
