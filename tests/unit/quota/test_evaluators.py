"""Quota names, object use and scopes, case by case (the API-level tests cover the flow)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pynetes.api.quantity import parse_quantity
from pynetes.quota.amounts import ZERO, add, render
from pynetes.quota.evaluators import (
    CLAIMS,
    PODS,
    SERVICES,
    Tracked,
    pod_amounts,
    pod_matches_scope,
    tracked_by,
    usage,
)

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


def container(requests: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": requests or {}}, **extra}


@pytest.mark.parametrize(
    ("name", "tracked"),
    [
        ("pods", PODS),
        ("requests.cpu", PODS),
        ("limits.memory", PODS),
        ("memory", PODS),
        ("hugepages-2Mi", PODS),
        ("requests.nvidia.com/gpu", PODS),
        ("services.nodeports", SERVICES),
        ("gold.storageclass.storage.k8s.io/requests.storage", CLAIMS),
        ("requests.storage", CLAIMS),
        ("secrets", Tracked("", "secrets")),
        ("count/deployments.apps", Tracked("apps", "deployments")),
        ("count/widgets.example.com", Tracked("example.com", "widgets")),
        ("count/pods", PODS),
        ("requests.example.kubernetes.io/thing", None),
        ("foo", None),
    ],
)
def test_each_name_belongs_to_a_resource(name: str, tracked: Tracked | None) -> None:
    assert tracked_by(name) == tracked


def test_sums_keep_the_format_of_their_first_non_zero_part() -> None:
    total = {"memory": ZERO, "cpu": ZERO}
    add(total, {"memory": parse_quantity("1Gi"), "cpu": parse_quantity("500m")})
    add(total, {"memory": parse_quantity("500M"), "cpu": parse_quantity("1")})
    assert render(total) == {"cpu": "1500m", "memory": "1573741824"}


def test_init_containers_raise_the_total_and_sidecars_add_to_it() -> None:
    pod = {
        "spec": {
            "containers": [container({"cpu": "1"}), container({"cpu": "500m"})],
            "initContainers": [
                container({"cpu": "200m"}, restartPolicy="Always"),
                container({"cpu": "2", "memory": "1Gi"}),
            ],
            "overhead": {"cpu": "100m"},
        }
    }
    requests = render(pod_amounts(pod, "requests", overhead_adds_new=True))
    # containers 1.5 + sidecar 0.2 = 1.7 < init 2 + sidecar 0.2 = 2.2; plus overhead 0.1
    assert requests == {"cpu": "2300m", "memory": "1Gi"}


def test_a_finished_or_long_deleted_pod_counts_only_as_an_object() -> None:
    sized = {"spec": {"containers": [container({"cpu": "1"})]}}
    assert render(usage(PODS, sized, NOW)) == {
        "count/pods": "1",
        "cpu": "1",
        "pods": "1",
        "requests.cpu": "1",
    }
    finished = {**sized, "status": {"phase": "Failed"}}
    assert render(usage(PODS, finished, NOW)) == {"count/pods": "1"}
    stuck = {
        **sized,
        "metadata": {"deletionTimestamp": "2024-01-01T11:00:00Z", "deletionGracePeriodSeconds": 30},
    }
    assert render(usage(PODS, stuck, NOW)) == {"count/pods": "1"}


def test_extended_and_hugepage_requests_are_counted_under_requests() -> None:
    pod = {"spec": {"containers": [container({"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi"})]}}
    used = render(usage(PODS, pod, NOW))
    assert used["requests.nvidia.com/gpu"] == "2"
    assert used["hugepages-2Mi"] == used["requests.hugepages-2Mi"] == "4Mi"


def test_claims_count_per_storage_class() -> None:
    claim = {"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "5Gi"}}}}
    assert render(usage(CLAIMS, claim, NOW)) == {
        "count/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/requests.storage": "5Gi",
        "persistentvolumeclaims": "1",
        "requests.storage": "5Gi",
    }


def test_load_balancers_count_node_ports_unless_they_are_not_allocated() -> None:
    ports = [{"port": 80, "nodePort": 30080}, {"port": 443}]
    balancer = {"spec": {"type": "LoadBalancer", "ports": ports}}
    assert render(usage(SERVICES, balancer, NOW))["services.nodeports"] == "2"
    balancer["spec"]["allocateLoadBalancerNodePorts"] = False
    assert render(usage(SERVICES, balancer, NOW))["services.nodeports"] == "1"


@pytest.mark.parametrize(
    ("requirement", "class_name", "matches"),
    [
        ({"scopeName": "PriorityClass", "operator": "Exists"}, "high", True),
        ({"scopeName": "PriorityClass", "operator": "Exists"}, "", False),
        ({"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}, "high", True),
        ({"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}, "", True),
        ({"scopeName": "PriorityClass", "operator": "DoesNotExist"}, "", False),
        ({"scopeName": "BestEffort"}, "", True),
        ({"scopeName": "NotTerminating"}, "", True),
    ],
)
def test_scopes(requirement: dict[str, Any], class_name: str, matches: bool) -> None:
    pod = {"spec": {"priorityClassName": class_name, "containers": [container()]}}
    assert pod_matches_scope(pod, requirement) is matches
