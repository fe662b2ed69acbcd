"""The decision log's bounds and the explanation built from an outcome."""

from __future__ import annotations

from pynetes.scheduler.algorithm import Diagnosis, Outcome
from pynetes.scheduler.decisions import DecisionLog, to_json
from pynetes.scheduler.explain import render
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.runtime import NodeScores
from tests.unit.scheduler.builders import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outcome() -> Outcome:
    tainted = st.unschedulable("node(s) had untolerated taint {dedicated: gpu}")
    diagnosis = Diagnosis({"c": tainted.with_plugin("TaintToleration")}, evaluated=3)
    scores = {
        "a": NodeScores(150, {"TaintToleration": 100, "NodeResourcesFit": 50}),
        "b": NodeScores(180, {"TaintToleration": 100, "NodeResourcesFit": 80}),
    }
    return Outcome("b", diagnosis, scores)


def record(log: DecisionLog, name: str) -> None:
    log.record(pod(name).build(), "default-scheduler", outcome(), 3, "", 0.002)


def test_keeps_only_the_latest_attempt_per_pod() -> None:
    log = DecisionLog(clock=Clock())
    record(log, "web")
    log.record(pod("web").build(), "other", Outcome(None, Diagnosis()), 3, "0/3 nodes", 0.001)
    assert len(log) == 1
    decision = log.get("default", "web")
    assert decision is not None
    assert (decision.profile, decision.message) == ("other", "0/3 nodes")


def test_evicts_the_oldest_beyond_the_count() -> None:
    log = DecisionLog(max_entries=2, clock=Clock())
    for name in ("a", "b", "c"):
        record(log, name)
    assert log.get("default", "a") is None
    assert log.get("default", "b") is not None
    assert len(log) == 2


def test_evicts_the_oldest_beyond_the_node_entries() -> None:
    log = DecisionLog(max_node_entries=8, clock=Clock())
    for name in ("a", "b", "c"):
        record(log, name)
    assert [log.get("default", n) is not None for n in ("a", "b", "c")] == [False, True, True]
    huge = Outcome(None, Diagnosis({f"n{i}": st.unschedulable("full") for i in range(20)}))
    log.record(pod("huge").build(), "p", huge, 20, "0/20 nodes", 0.0)
    assert log.get("default", "huge") is not None
    assert len(log) == 1


def test_forgets_decisions_older_than_the_age_bound() -> None:
    clock = Clock()
    log = DecisionLog(max_age=60, clock=clock)
    record(log, "old")
    clock.now += 30
    record(log, "new")
    clock.now += 31
    assert log.get("default", "old") is None
    decision = log.get("default", "new")
    assert decision is not None
    assert log.age(decision) == 31


def test_explanation_lists_chosen_then_feasible_by_score_then_rejected() -> None:
    log = DecisionLog(clock=Clock())
    record(log, "web")
    decision = log.get("default", "web")
    assert decision is not None
    explanation = to_json(decision, 5.0)
    assert explanation["node"] == "b"
    assert [(n["name"], n["verdict"], n["total"], n["chosen"]) for n in explanation["nodes"]] == [
        ("b", "passed", 180, True),
        ("a", "passed", 150, False),
        ("c", "rejected", None, False),
    ]
    rejected = explanation["nodes"][2]
    assert rejected["plugin"] == "TaintToleration"
    assert rejected["reason"] == "node(s) had untolerated taint {dedicated: gpu}"
    assert explanation["nodes"][0]["scores"] == {"TaintToleration": 100, "NodeResourcesFit": 80}


def test_a_single_feasible_node_is_chosen_without_scores() -> None:
    log = DecisionLog(clock=Clock())
    log.record(pod("web").build(), "p", Outcome("only", Diagnosis(evaluated=1)), 1, "", 0.0)
    decision = log.get("default", "web")
    assert decision is not None
    (only,) = to_json(decision, 0.0)["nodes"]
    assert (only["name"], only["chosen"], only["scores"], only["total"]) == ("only", True, {}, None)


def test_table_has_a_row_per_node_and_a_column_per_plugin() -> None:
    log = DecisionLog(clock=Clock())
    record(log, "web")
    decision = log.get("default", "web")
    assert decision is not None
    heading, header, *rows = render(to_json(decision, 5.0)).splitlines()
    assert heading.startswith("pod default/web (profile default-scheduler): bound to b, 5s ago")
    assert "3 of 3 nodes evaluated" in heading
    assert header.split() == [
        "NODE",
        "VERDICT",
        "REASON",
        "NodeResourcesFit",
        "TaintToleration",
        "TOTAL",
        "CHOSEN",
    ]
    assert rows[0].split() == ["b", "passed", "80", "100", "180", "*"]
    assert rows[1].split() == ["a", "passed", "50", "100", "150"]
    assert rows[2].startswith("c ")
    assert "rejected  TaintToleration: node(s) had untolerated taint {dedicated: gpu}" in rows[2]
