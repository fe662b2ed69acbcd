"""The ownership graph: which uids the collector's workers are asked to look at."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.controllermanager.controllers.garbagecollector.graph import Graph

PODS = built_in("", "v1", "pods")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
NODES = built_in("", "v1", "nodes")
Object = dict[str, Any]


def obj(uid: str, *owners: str, namespace: str = "ns", **metadata: Any) -> Object:
    references = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": o, **extra}
        for o, extra in (_owner(owner) for owner in owners)
    ]
    return {
        "metadata": {
            "name": uid,
            "uid": uid,
            "namespace": namespace,
            "ownerReferences": references,
            **metadata,
        }
    }


def _owner(spec: str) -> tuple[str, dict[str, Any]]:
    """``uid`` or ``uid!`` (the reference blocks the owner's deletion)."""
    if spec.endswith("!"):
        return spec[:-1], {"blockOwnerDeletion": True}
    return spec, {}


def deleting(uid: str, finalizer: str, *owners: str) -> Object:
    return obj(uid, *owners, deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[finalizer])


def test_a_dependent_seen_before_its_owner_is_checked_and_one_seen_after_is_not() -> None:
    graph = Graph()
    assert graph.observe(PODS, obj("early", "rs")).attempt_to_delete == {"early"}
    assert graph.observe(REPLICA_SETS, obj("rs")).attempt_to_delete == set()
    assert graph.observe(PODS, obj("late", "rs")).attempt_to_delete == set()


def test_an_owner_deleted_sends_its_dependents_to_be_checked() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, obj("rs"))
    graph.observe(PODS, obj("a", "rs"))
    graph.observe(PODS, obj("b", "rs"))
    assert graph.forget(obj("rs")).attempt_to_delete == {"a", "b"}
    assert graph.node("rs") is None


def test_foreground_deletion_sends_the_owner_and_dependents_then_the_owner_again() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, obj("rs"))
    graph.observe(PODS, obj("blocker", "rs!"))
    graph.observe(PODS, obj("free", "rs"))
    work = graph.observe(REPLICA_SETS, deleting("rs", "foregroundDeletion"))
    assert work.attempt_to_delete == {"rs", "blocker", "free"}
    assert [node.uid for node in graph.blocking_dependents("rs")] == ["blocker"]
    assert graph.forget(obj("blocker", "rs!")).attempt_to_delete == {"rs"}
    assert graph.blocking_dependents("rs") == []


def test_a_dependent_letting_go_of_a_waiting_owner_sends_the_owner() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, obj("rs"))
    graph.observe(PODS, obj("pod", "rs!"))
    graph.observe(REPLICA_SETS, deleting("rs", "foregroundDeletion"))
    assert "rs" in graph.observe(PODS, obj("pod", "rs")).attempt_to_delete  # unblocked


def test_an_owner_deleted_with_the_orphan_finalizer_is_sent_to_be_orphaned() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, obj("rs"))
    assert graph.observe(REPLICA_SETS, deleting("rs", "orphan")).attempt_to_orphan == {"rs"}


def test_a_namespaced_owner_counts_only_in_the_dependents_namespace() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, obj("rs", namespace="other"))
    graph.observe(NODES, obj("node", namespace=""))
    work = graph.observe(PODS, obj("pod", "rs", "node"))
    assert work.attempt_to_delete == {"pod"}
    node = graph.node("pod")
    assert node is not None
    assert [graph.owner_is_known(node, owner) for owner in node.owners] == [False, True]


def test_a_dependent_arriving_while_its_owner_waits_is_sent_to_be_checked() -> None:
    graph = Graph()
    graph.observe(REPLICA_SETS, deleting("rs", "foregroundDeletion"))
    assert graph.observe(PODS, obj("newcomer", "rs!")).attempt_to_delete == {"newcomer"}
