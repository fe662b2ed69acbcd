"""Where daemon pods belong, and what one sync of a DaemonSet does to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynetes.controllermanager.controllers.daemonset.placement import (
    Eligibility,
    NodePlan,
    RollingLimits,
    SurgeState,
    daemon_template,
    eligibility,
    pinned_to,
    plan_node,
    pods_by_node,
    rolling_step,
    target_node,
    unscheduled_without_node,
    with_daemon_tolerations,
)

Object = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RUNS = Eligibility(True, True)


def node(name: str, labels: dict | None = None, taints: list | None = None) -> Object:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def daemon_set(**pod_spec: Any) -> Object:
    return {
        "metadata": {"name": "agent", "namespace": "default", "uid": "u", "generation": 3},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "c", "image": "agent:1"}], **pod_spec},
            },
        },
    }


def pod(name: str, *, new: bool = True, ready: bool = True, **metadata: Any) -> Object:
    status = "True" if ready else "False"
    return {
        "metadata": {
            "name": name,
            "labels": {"controller-revision-hash": "new" if new else "old"},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            **metadata,
        },
        "spec": {},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]},
    }


def test_daemon_pods_tolerate_troubled_and_cordoned_nodes_and_carry_their_revision() -> None:
    template = daemon_template(daemon_set(hostNetwork=True), "abc")
    assert template["metadata"]["labels"] == {
        "app": "agent",
        "pod-template-generation": "3",
        "controller-revision-hash": "abc",
    }
    keys = {(t["key"], t["effect"]) for t in template["spec"]["tolerations"]}
    assert keys == {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/network-unavailable", "NoSchedule"),
    }
    without_network = daemon_template(daemon_set(), "abc")["spec"]["tolerations"]
    assert len(without_network) == 6


def test_a_users_toleration_for_the_same_taint_is_replaced_not_doubled() -> None:
    own = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    own_with_seconds = {**own, "tolerationSeconds": 30}
    merged = with_daemon_tolerations([own_with_seconds], host_network=False)
    assert merged.count(own) == 1 and own_with_seconds not in merged
    assert len(merged) == 6


def test_eligibility_follows_selector_affinity_name_and_taints() -> None:
    template = daemon_template(daemon_set(nodeSelector={"tier": "web"}), "h")
    assert eligibility(template, node("a", {"tier": "web"})) == Eligibility(True, True)
    assert eligibility(template, node("b", {"tier": "db"})) == Eligibility(False, False)
    no_schedule = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    no_execute = {"key": "dedicated", "value": "x", "effect": "NoExecute"}
    prefer = {"key": "dedicated", "value": "x", "effect": "PreferNoSchedule"}
    web = {"tier": "web"}
    # a pod already there may stay through a NoSchedule taint, not a NoExecute one
    assert eligibility(template, node("c", web, [no_schedule])) == Eligibility(False, True)
    assert eligibility(template, node("d", web, [no_execute])) == Eligibility(False, False)
    assert eligibility(template, node("e", web, [prefer])) == Eligibility(True, True)
    cordoned = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    assert eligibility(template, node("f", web, [cordoned])) == Eligibility(True, True)
    named = daemon_template(daemon_set(nodeName="a"), "h")
    assert eligibility(named, node("a")).should_run
    assert eligibility(named, node("b")) == Eligibility(False, False)


def test_pods_are_pinned_by_node_name_affinity_and_found_by_it() -> None:
    spec = pinned_to({"affinity": {"podAntiAffinity": {"x": 1}}}, "node-7")
    assert spec["affinity"]["podAntiAffinity"] == {"x": 1}
    assert target_node({"metadata": {}, "spec": spec}) == "node-7"
    assert target_node({"metadata": {}, "spec": {**spec, "nodeName": "node-8"}}) == "node-8"
    assert target_node({"metadata": {}, "spec": {}}) is None


def test_plan_creates_where_missing_deletes_where_ineligible_extra_or_failed() -> None:
    plan = NodePlan()
    plan_node(plan, "empty", RUNS, [], None)
    gone = pod("gone")
    plan_node(plan, "tainted", Eligibility(False, False), [gone], None)
    oldest, extra = pod("oldest"), pod("extra", creationTimestamp="2026-01-02T00:00:00Z")
    plan_node(plan, "crowded", RUNS, [oldest, extra], None)
    failed = pod("failed")
    failed["status"]["phase"] = "Failed"
    plan_node(plan, "failing", RUNS, [failed], None)
    terminating = pod("terminating", deletionTimestamp="2026-01-01T00:00:00Z")
    plan_node(plan, "draining", RUNS, [terminating], None)
    assert plan.create_on == ["empty"]
    assert plan.delete == [gone, extra]
    assert plan.failed == [("failing", failed)]


def test_surge_keeps_an_old_pod_only_until_the_new_one_is_available() -> None:
    surge = SurgeState("new", None, 0, NOW)
    old, new = pod("old", new=False), pod("new")
    assert surge.extra_pods([old, new]) == [old]
    assert surge.extra_pods([old, pod("new", ready=False)]) == []
    unready_old = pod("old", new=False, ready=False)
    assert surge.extra_pods([unready_old, pod("new", ready=False)]) == [unready_old]


def is_new(candidate: Object) -> bool:
    return candidate["metadata"]["labels"]["controller-revision-hash"] == "new"


def is_available(candidate: Object) -> bool:
    return candidate["status"]["conditions"][0]["status"] == "True"


def test_rolling_without_surge_deletes_old_pods_within_max_unavailable() -> None:
    by_node = {f"n{i}": [pod(f"p{i}", new=False)] for i in range(4)}
    step = rolling_step(by_node, RollingLimits(2, 0), is_new, is_available)
    assert [p["metadata"]["name"] for p in step.delete] == ["p0", "p1"]
    # one node is already down (its new pod not ready): one more may go
    by_node["n0"] = [pod("p0-new", ready=False)]
    step = rolling_step(by_node, RollingLimits(2, 0), is_new, is_available)
    assert [p["metadata"]["name"] for p in step.delete] == ["p1"]
    # an old pod that is not available anyway goes at once, beyond the limit
    by_node["n3"] = [pod("p3", new=False, ready=False)]
    by_node["n1"] = []
    step = rolling_step(by_node, RollingLimits(2, 0), is_new, is_available)
    assert [p["metadata"]["name"] for p in step.delete] == ["p3"]


def test_rolling_with_surge_starts_new_pods_beside_old_ones() -> None:
    by_node = {f"n{i}": [pod(f"p{i}", new=False)] for i in range(3)}
    step = rolling_step(by_node, RollingLimits(0, 1), is_new, is_available)
    assert (step.delete, step.surge_on) == ([], ["n0"])
    by_node["n0"].append(pod("p0-new"))
    step = rolling_step(by_node, RollingLimits(0, 1), is_new, is_available)
    assert ([p["metadata"]["name"] for p in step.delete], step.surge_on) == (["p0"], ["n1"])


def test_limits_scale_percentages_up_and_never_stall() -> None:
    def with_rolling(rolling: Object) -> Object:
        return {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}

    assert RollingLimits.of(with_rolling({"maxUnavailable": "10%"}), 15) == RollingLimits(2, 0)
    zero = with_rolling({"maxUnavailable": 0, "maxSurge": 0})
    assert RollingLimits.of(zero, 5) == RollingLimits(1, 0)
    assert RollingLimits.of(with_rolling({"maxUnavailable": 0, "maxSurge": "50%"}), 3) == (
        RollingLimits(0, 2)
    )


def test_unbound_pods_of_gone_nodes_are_deleted_and_bound_ones_left() -> None:
    waiting = pod("waiting")
    waiting["spec"] = pinned_to({}, "gone")
    bound = pod("bound")
    bound["spec"] = {"nodeName": "gone-too"}
    here = pod("here")
    here["spec"] = pinned_to({}, "n1")
    by_node = {"gone": [waiting], "gone-too": [bound], "n1": [here]}
    assert unscheduled_without_node(by_node, ["n1"]) == [waiting]


def test_pods_group_by_node_bound_then_oldest_first() -> None:
    pending = pod("a-pending", creationTimestamp="2025-01-01T00:00:00Z")
    pending["spec"] = pinned_to({}, "n1")
    young = pod("b-young", creationTimestamp="2026-02-01T00:00:00Z")
    young["spec"] = {"nodeName": "n1"}
    old = pod("c-old", creationTimestamp="2026-01-01T00:00:00Z")
    old["spec"] = {"nodeName": "n1"}
    lost = pod("d-lost")
    assert pods_by_node([pending, young, old, lost]) == {"n1": [old, young, pending], None: [lost]}
