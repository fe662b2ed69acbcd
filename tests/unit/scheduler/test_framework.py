import pytest

from pynetes.scheduler.algorithm import (
    Algorithm,
    Diagnosis,
    feasible_nodes_to_find,
    fit_error_message,
)
from pynetes.scheduler.config import ConfigError, parse
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import unresolvable, unschedulable
from pynetes.scheduler.plugins.registry import in_tree_registry
from tests.unit.scheduler.builders import node, pod

HEADER = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (50, 0, 50),
        (1000, 0, 420),
        (5000, 0, 500),
        (100_000, 0, 5000),
        (1000, 5, 100),
        (1000, 100, 1000),
    ],
)
def test_feasible_nodes_to_find(nodes, percentage, expected):
    assert feasible_nodes_to_find(nodes, percentage) == expected


def test_fit_error_message_counts_and_sorts_reasons():
    diagnosis = Diagnosis(
        statuses={
            "n1": unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
            "n2": unschedulable("Insufficient cpu"),
            "n3": unschedulable("Insufficient cpu", "Insufficient memory"),
        }
    )
    assert fit_error_message(3, diagnosis) == (
        "0/3 nodes are available: 1 Insufficient memory, "
        "1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
    )


def framework(document=None) -> Framework:
    config = parse({**HEADER, **(document or {})})
    client = object()  # plugins only keep it; nothing here calls the API
    return Framework(config.profiles[0], in_tree_registry(), Handle(client, Snapshot))  # type: ignore[arg-type]


def test_default_binder_needs_a_client():
    config = parse(HEADER)
    with pytest.raises(ConfigError, match="DefaultBinder needs an API client"):
        Framework(config.profiles[0], in_tree_registry(), Handle(None, Snapshot))


def test_scores_are_weighted_and_ties_broken():
    fwk = framework()
    assert fwk.weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert [p.name for p in fwk.points["filter"]] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    snapshot = Snapshot(
        [
            node("busy").capacity(cpu="4").info(pod("x").container(cpu="3").build()),
            node("idle").capacity(cpu="4").info(),
            node("tainted").capacity(cpu="4").taint("a").info(),
        ]
    )
    outcome = Algorithm().schedule(
        fwk, CycleState(), pod("p").container(cpu="1").build(), snapshot, 0
    )
    assert outcome.node == "idle"
    assert outcome.diagnosis.unschedulable_plugins == {"TaintToleration"}
    assert outcome.scores["idle"].total > outcome.scores["busy"].total


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"percentageOfNodesToScore": 101}, "percentageOfNodesToScore"),
        (
            {"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]},
            r"profiles\[1\].schedulerName",
        ),
        (
            {"profiles": [{"plugins": {"filter": {"enabled": [{}]}}}]},
            r"profiles\[0\].plugins.filter.enabled\[0\].name",
        ),
        (
            {"profiles": [{"plugins": {"score": {"enabled": [{"name": "X", "weight": -1}]}}}]},
            r"profiles\[0\].plugins.score.enabled\[0\].weight",
        ),
        (
            {"leaderElection": {"leaseDuration": "5s", "renewDeadline": "10s"}},
            "leaderElection.renewDeadline",
        ),
        ({"kind": "Other"}, "kind"),
    ],
)
def test_invalid_configuration_names_the_field(document, field):
    with pytest.raises(ConfigError, match=field):
        parse({**HEADER, **document})


def test_unknown_plugin_and_plugin_args_are_reported():
    document = {"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}
    with pytest.raises(ConfigError, match="plugin 'Nope' does not exist"):
        framework(document)
    document = {
        "profiles": [
            {
                "pluginConfig": [
                    {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "X"}}}
                ]
            }
        ]
    }
    with pytest.raises(ConfigError, match=r"scoringStrategy\.type"):
        framework(document)
