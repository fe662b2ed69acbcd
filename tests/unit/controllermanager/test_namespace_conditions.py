"""The deletion conditions of a terminating namespace, worded and timed as upstream's."""

from __future__ import annotations

from pynetes.controllermanager.controllers.namespace.conditions import (
    ALL_WELL,
    Findings,
    updated_conditions,
)


def by_type(conditions: list[dict]) -> dict[str, dict]:
    return {c["type"]: c for c in conditions}


def test_a_clean_pass_reports_every_condition_false_with_the_all_is_well_words() -> None:
    conditions = updated_conditions([], Findings(), "t1")
    assert [c["type"] for c in conditions] == list(ALL_WELL)
    assert by_type(conditions)["NamespaceContentRemaining"] == {
        "type": "NamespaceContentRemaining",
        "status": "False",
        "reason": "ContentRemoved",
        "message": "All content successfully removed",
        "lastTransitionTime": "t1",
    }


def test_remaining_content_and_finalizers_are_counted_in_sorted_order() -> None:
    findings = Findings(
        remaining={"pods.": 2, "widgets.example.com": 1},
        finalizers={"b/x": 1, "a/y": 2},
    )
    conditions = by_type(updated_conditions([], findings, "t1"))
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: pods. has 2 resource instances,"
        " widgets.example.com has 1 resource instances"
    )
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: a/y in 2 resource instances,"
        " b/x in 1 resource instances"
    )
    assert conditions["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"


def test_errors_are_aggregated_as_go_prints_them() -> None:
    one = by_type(updated_conditions([], Findings(content_errors=["boom"]), "t"))
    assert one["NamespaceDeletionContentFailure"]["message"] == (
        "Failed to delete all resource types, 1 remaining: boom"
    )
    two = by_type(updated_conditions([], Findings(content_errors=["b", "a"]), "t"))
    assert two["NamespaceDeletionContentFailure"]["message"] == (
        "Failed to delete all resource types, 2 remaining: [a, b]"
    )
    failed = Findings(discovery_failures={"example.com/v1": "the server is down"})
    discovery = by_type(updated_conditions([], failed, "t"))["NamespaceDeletionDiscoveryFailure"]
    assert (discovery["status"], discovery["reason"]) == ("True", "DiscoveryFailed")
    assert discovery["message"] == (
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of"
        " server APIs: example.com/v1: the server is down"
    )


def test_the_transition_time_moves_with_the_status_only() -> None:
    first = updated_conditions([], Findings(remaining={"pods.": 2}), "t1")
    fewer = updated_conditions(first, Findings(remaining={"pods.": 1}), "t2")
    remaining = by_type(fewer)["NamespaceContentRemaining"]
    assert remaining["message"].endswith("pods. has 1 resource instances")
    assert remaining["lastTransitionTime"] == "t1"
    cleared = by_type(updated_conditions(fewer, Findings(), "t3"))["NamespaceContentRemaining"]
    assert (cleared["status"], cleared["lastTransitionTime"]) == ("False", "t3")


def test_other_conditions_are_kept() -> None:
    other = {"type": "Example", "status": "True"}
    assert updated_conditions([other], Findings(), "t")[0] == other
