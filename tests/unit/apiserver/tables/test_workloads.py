"""``kubectl get deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,...``."""

from __future__ import annotations

from typing import Any

import pytest

from .support import ago, headers, meta, row

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [
            {"name": "web", "image": "nginx:1.27"},
            {"name": "proxy", "image": "envoyproxy/envoy:v1.31"},
        ]
    },
}


def test_deployment_mid_rollout() -> None:
    deployment = {
        "metadata": meta("web", ago(days=3)),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["frontend", "backend"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "template": TEMPLATE,
        },
        "status": {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3},
    }
    assert row("apps", "deployments", deployment) == [
        "web",
        "3/3",
        2,
        3,
        "3d",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
        # labels.Selector.String(): requirements sorted by key, set values sorted.
        "app=web,!canary,tier in (backend,frontend)",
    ]


def test_new_deployment_without_status() -> None:
    deployment = {
        "metadata": meta("web", ago(seconds=4)),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
    }
    assert row("apps", "deployments", deployment)[:5] == ["web", "0/2", 0, 0, "4s"]


def test_deployment_with_an_invalid_selector_says_so() -> None:
    deployment = {
        "metadata": meta("web", ago(days=1)),
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
    }
    assert row("apps", "deployments", deployment)[-1] == "<invalid>"


def test_replicaset() -> None:
    replicaset = {
        "metadata": meta("web-7d4b9c8f5", ago(hours=5)),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c8f5"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert row("apps", "replicasets", replicaset) == [
        "web-7d4b9c8f5",
        3,
        3,
        2,
        "5h",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
        "app=web,pod-template-hash=7d4b9c8f5",
    ]


def test_scaled_down_replicaset_and_empty_selector() -> None:
    replicaset = {"metadata": meta("old", ago(days=40)), "spec": {"replicas": 0}, "status": {}}
    assert row("apps", "replicasets", replicaset) == ["old", 0, 0, 0, "40d", "", "", "<none>"]


def test_statefulset() -> None:
    statefulset = {
        "metadata": meta("db", ago(minutes=7, seconds=5)),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert row("apps", "statefulsets", statefulset) == [
        "db",
        "1/3",
        "7m5s",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
    ]


def test_daemonset() -> None:
    template = {
        **TEMPLATE,
        "spec": {**TEMPLATE["spec"], "nodeSelector": {"kubernetes.io/os": "linux"}},
    }
    daemonset = {
        "metadata": meta("kube-proxy", ago(days=12)),
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": template},
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert row("apps", "daemonsets", daemonset) == [
        "kube-proxy",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "12d",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
        "k8s-app=kube-proxy",
    ]


def test_controllerrevision_names_its_controller_with_kind_and_group() -> None:
    revision = {
        "metadata": meta(
            "db-5c9f",
            ago(hours=2),
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Pod", "name": "ignored"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True},
            ],
        ),
        "revision": 4,
    }
    assert row("apps", "controllerrevisions", revision) == [
        "db-5c9f",
        "statefulset.apps/db",
        4,
        "120m",  # HumanDuration counts minutes up to three hours
    ]


def test_controllerrevision_without_controller() -> None:
    revision = {"metadata": meta("orphan", ago(hours=2)), "revision": 1}
    assert row("apps", "controllerrevisions", revision)[1] == "<none>"


def test_replicationcontroller() -> None:
    controller = {
        "metadata": meta("legacy", ago(days=3)),
        "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 2},
    }
    assert row("", "replicationcontrollers", controller) == [
        "legacy",
        2,
        2,
        2,
        "3d",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
        "app=legacy",
    ]


def job(**status: Any) -> dict[str, Any]:
    return {
        "metadata": meta("pi", ago(hours=1)),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "f00"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}},
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            job(
                succeeded=1,
                startTime=ago(minutes=58),
                completionTime=ago(minutes=57, seconds=15),
                conditions=[{"type": "Complete", "status": "True"}],
            ),
            ["pi", "Complete", "1/1", "45s", "60m"],
            id="complete",
        ),
        pytest.param(
            job(startTime=ago(minutes=3, seconds=20), active=1),
            ["pi", "Running", "0/1", "3m20s", "60m"],
            id="running-duration-until-now",
        ),
        pytest.param(job(), ["pi", "Running", "0/1", "", "60m"], id="not-started"),
        pytest.param(
            job(
                conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
            ),
            ["pi", "Failed", "0/1", "", "60m"],
            id="failed",
        ),
        pytest.param(
            job(conditions=[{"type": "Suspended", "status": "True"}]),
            ["pi", "Suspended", "0/1", "", "60m"],
            id="suspended",
        ),
        pytest.param(
            job(conditions=[{"type": "FailureTarget", "status": "True"}]),
            ["pi", "FailureTarget", "0/1", "", "60m"],
            id="failure-target",
        ),
        pytest.param(
            job(conditions=[{"type": "Complete", "status": "False"}]),
            ["pi", "Running", "0/1", "", "60m"],
            id="false-condition-is-ignored",
        ),
    ],
)
def test_job(obj: dict[str, Any], expected: list[Any]) -> None:
    assert row("batch", "jobs", obj)[:5] == expected


def test_deleted_job_is_terminating_unless_finished() -> None:
    deleted = job(active=1)
    deleted["metadata"]["deletionTimestamp"] = ago(seconds=3)
    assert row("batch", "jobs", deleted)[1] == "Terminating"
    deleted["status"]["conditions"] = [{"type": "Complete", "status": "True"}]
    assert row("batch", "jobs", deleted)[1] == "Complete"


@pytest.mark.parametrize(
    ("completions", "parallelism", "expected"),
    [(5, 2, "3/5"), (None, 1, "3/1"), (None, 4, "3/1 of 4"), (None, None, "3/1")],
)
def test_job_completions(completions: int | None, parallelism: int | None, expected: str) -> None:
    obj = job(succeeded=3)
    obj["spec"]["completions"] = completions
    obj["spec"]["parallelism"] = parallelism
    assert row("batch", "jobs", obj)[2] == expected


def test_job_wide_columns() -> None:
    assert row("batch", "jobs", job())[5:] == [
        "pi",
        "perl:5.34",
        "batch.kubernetes.io/controller-uid=f00",
    ]


def test_cronjob() -> None:
    cronjob = {
        "metadata": meta("backup", ago(days=30)),
        "spec": {
            "schedule": "0 2 * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": TEMPLATE}},
        },
        "status": {"active": [{"name": "backup-28712"}], "lastScheduleTime": ago(hours=10)},
    }
    assert row("batch", "cronjobs", cronjob) == [
        "backup",
        "0 2 * * *",
        "<none>",
        "False",
        1,
        "10h",
        "30d",
        "web,proxy",
        "nginx:1.27,envoyproxy/envoy:v1.31",
        "<none>",
    ]


def test_cronjob_never_scheduled_with_time_zone_and_unset_suspend() -> None:
    cronjob = {
        "metadata": meta("report", ago(minutes=1)),
        "spec": {"schedule": "@hourly", "timeZone": "Europe/Paris", "jobTemplate": {}},
    }
    assert row("batch", "cronjobs", cronjob)[:7] == [
        "report",
        "@hourly",
        "Europe/Paris",
        "<unset>",
        0,
        "<none>",
        "60s",
    ]


COLUMNS = {
    ("apps", "deployments"): ["Name", "Ready", "Up-to-date", "Available", "Age"],
    ("apps", "replicasets"): ["Name", "Desired", "Current", "Ready", "Age"],
    ("apps", "statefulsets"): ["Name", "Ready", "Age"],
    ("apps", "daemonsets"): [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
    ],
    ("batch", "jobs"): ["Name", "Status", "Completions", "Duration", "Age"],
    ("batch", "cronjobs"): [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age",
    ],
    ("apps", "controllerrevisions"): ["Name", "Controller", "Revision", "Age"],
    ("", "replicationcontrollers"): ["Name", "Desired", "Current", "Ready", "Age"],
}  # fmt: skip
WIDE = {
    ("apps", "deployments"): ["Containers", "Images", "Selector"],
    ("apps", "replicasets"): ["Containers", "Images", "Selector"],
    ("apps", "statefulsets"): ["Containers", "Images"],
    ("apps", "daemonsets"): ["Containers", "Images", "Selector"],
    ("batch", "jobs"): ["Containers", "Images", "Selector"],
    ("batch", "cronjobs"): ["Containers", "Images", "Selector"],
    ("", "replicationcontrollers"): ["Containers", "Images", "Selector"],
}


@pytest.mark.parametrize(("group", "resource"), list(COLUMNS))
def test_columns(group: str, resource: str) -> None:
    expected = [(name, 0) for name in COLUMNS[group, resource]]
    expected += [(name, 1) for name in WIDE.get((group, resource), [])]
    assert headers(group, resource) == expected
