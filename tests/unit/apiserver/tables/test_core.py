"""``kubectl get`` of the core group's resources (pods and events aside)."""

from __future__ import annotations

from typing import Any

import pytest

from .support import ago, headers, meta, row


def node(labels: dict[str, str], conditions: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": meta("cp-1", ago(days=40), labels=labels),
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": [
                {"type": "Hostname", "address": "cp-1"},
                {"type": "InternalIP", "address": "172.18.0.2"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64",
                "containerRuntimeVersion": "containerd://1.7.18",
            },
        },
    }


READY = {"type": "Ready", "status": "True"}


def test_cordoned_control_plane_node() -> None:
    labels = {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp-1"}
    assert row("", "nodes", node(labels, [READY], unschedulable=True)) == [
        "cp-1",
        "Ready,SchedulingDisabled",
        "control-plane",
        "40d",
        "v1.31.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-amd64",
        "containerd://1.7.18",
    ]


@pytest.mark.parametrize(
    ("labels", "conditions", "status", "roles"),
    [
        ({}, [{"type": "Ready", "status": "False"}], "NotReady", "<none>"),
        ({}, [{"type": "Ready", "status": "Unknown"}], "NotReady", "<none>"),
        ({}, [{"type": "MemoryPressure", "status": "False"}], "Unknown", "<none>"),
        # Roles come from node-role.kubernetes.io/<role> keys and kubernetes.io/role values, sorted.
        (
            {"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "ingress"},
            [READY],
            "Ready",
            "ingress,worker",
        ),
        ({"node-role.kubernetes.io/": "x", "kubernetes.io/role": ""}, [READY], "Ready", "<none>"),
    ],
)
def test_node_status_and_roles(
    labels: dict[str, str], conditions: list[dict[str, Any]], status: str, roles: str
) -> None:
    assert row("", "nodes", node(labels, conditions))[1:3] == [status, roles]


def test_node_without_system_info_says_unknown() -> None:
    bare = {"metadata": meta("new", ago(seconds=3)), "status": {}}
    assert row("", "nodes", bare) == [
        "new",
        "Unknown",
        "<none>",
        "3s",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


def service(kind: str, status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": meta("web", ago(days=3)),
        "spec": {"type": kind, "selector": {"app": "web", "tier": "front"}, **spec},
        "status": status or {},
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            service(
                "NodePort",
                clusterIP="10.96.12.7",
                clusterIPs=["10.96.12.7"],
                ports=[
                    {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 443, "nodePort": 30443, "protocol": "TCP"},
                ],
            ),
            ["web", "NodePort", "10.96.12.7", "<none>", "80:30080/TCP,443:30443/TCP", "3d"],
            id="node-port",
        ),
        pytest.param(
            service(
                "ClusterIP",
                clusterIPs=["None"],
                externalIPs=["192.0.2.10", "192.0.2.11"],
                ports=[{"port": 53, "protocol": "UDP"}],
            ),
            ["web", "ClusterIP", "None", "192.0.2.10,192.0.2.11", "53/UDP", "3d"],
            id="headless-with-external-ips",
        ),
        pytest.param(
            service(
                "LoadBalancer",
                clusterIPs=["10.96.0.5"],
                ports=[{"port": 80, "protocol": "TCP", "nodePort": 31000}],
            ),
            ["web", "LoadBalancer", "10.96.0.5", "<pending>", "80:31000/TCP", "3d"],
            id="load-balancer-pending",
        ),
        pytest.param(
            service(
                "LoadBalancer",
                clusterIPs=["10.96.0.5"],
                externalIPs=["198.51.100.9"],
                status={
                    "loadBalancer": {
                        "ingress": [{"ip": "203.0.113.20"}, {"hostname": "lb.example.com"}]
                    }
                },
            ),
            # Not clipped to 16 characters: the server prints wide.
            [
                "web",
                "LoadBalancer",
                "10.96.0.5",
                "203.0.113.20,lb.example.com,198.51.100.9",
                "<none>",
                "3d",
            ],
            id="load-balancer-ready",
        ),
        pytest.param(
            service("ExternalName", externalName="db.example.com"),
            ["web", "ExternalName", "<none>", "db.example.com", "<none>", "3d"],
            id="external-name",
        ),
    ],
)
def test_service(obj: dict[str, Any], expected: list[Any]) -> None:
    cells = row("", "services", obj)
    assert cells[:6] == expected
    assert cells[6] == "app=web,tier=front"


def test_service_without_selector_is_none_in_wide_output() -> None:
    obj = service("ClusterIP", clusterIPs=["10.96.0.1"])
    del obj["spec"]["selector"]
    assert row("", "services", obj)[6] == "<none>"


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        ([], "<none>"),
        (
            [
                {
                    "addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.6"}],
                    "ports": [{"port": 8080}],
                }
            ],
            "10.244.1.5:8080,10.244.2.6:8080",
        ),
        (
            [
                {
                    "addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.6"}],
                    "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}],
                }
            ],
            "10.244.1.5:80,10.244.2.6:80,10.244.1.5:9090 + 1 more...",
        ),
        ([{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 443}]}], "[fd00::5]:443"),
        # Headless services without ports list bare addresses.
        ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}], "10.0.0.1,10.0.0.2"),
        # Only not-ready addresses: nothing to list, but not <none> either.
        ([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], ""),
    ],
)
def test_endpoints(subsets: list[dict[str, Any]], expected: str) -> None:
    endpoints = {"metadata": meta("web", ago(minutes=30)), "subsets": subsets}
    assert row("", "endpoints", endpoints) == ["web", expected, "30m"]


def test_namespace_configmap_secret_serviceaccount() -> None:
    assert row(
        "", "namespaces", {"metadata": meta("dev", ago(hours=5)), "status": {"phase": "Active"}}
    ) == ["dev", "Active", "5h"]
    configmap = {
        "metadata": meta("settings", ago(minutes=1)),
        "data": {"a": "1", "b": "2"},
        "binaryData": {"blob": "AAE="},
    }
    assert row("", "configmaps", configmap) == ["settings", 3, "60s"]
    secret = {
        "metadata": meta("tls", ago(days=2)),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y3J0", "tls.key": "a2V5"},
    }
    assert row("", "secrets", secret) == ["tls", "kubernetes.io/tls", 2, "2d"]
    account = {"metadata": meta("default", ago(days=2))}
    assert row("", "serviceaccounts", account) == ["default", 0, "2d"]


def test_terminating_namespace() -> None:
    namespace = {"metadata": meta("old", ago(days=9)), "status": {"phase": "Terminating"}}
    assert row("", "namespaces", namespace)[1] == "Terminating"


def test_persistent_volume() -> None:
    volume = {
        "metadata": meta("pv-data", ago(days=3)),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "db", "name": "data-db-0"},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert row("", "persistentvolumes", volume) == [
        "pv-data",
        "10Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "db/data-db-0",
        "standard",
        "<unset>",
        "",
        "3d",
        "Filesystem",
    ]


def test_released_persistent_volume_being_deleted() -> None:
    volume = {
        "metadata": meta(
            "pv-old",
            ago(days=3),
            deletionTimestamp=ago(seconds=5),
            annotations={"volume.beta.kubernetes.io/storage-class": "legacy"},
        ),
        "spec": {"storageClassName": "standard"},
        "status": {"phase": "Released", "reason": "Reclaiming"},
    }
    cells = row("", "persistentvolumes", volume)
    assert cells[1:9] == ["0", "", "", "Terminating", "", "legacy", "<unset>", "Reclaiming"]


def test_bound_and_pending_claims() -> None:
    bound = {
        "metadata": meta("data-db-0", ago(days=3)),
        "spec": {
            "volumeName": "pv-data",
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "5Gi"}},
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "10Gi"},
        },
    }
    assert row("", "persistentvolumeclaims", bound) == [
        "data-db-0",
        "Bound",
        "pv-data",
        "10Gi",
        "RWO",
        "standard",
        "<unset>",
        "3d",
        "Filesystem",
    ]
    pending = {
        "metadata": meta("scratch", ago(seconds=30)),
        "spec": {
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeAttributesClassName": "gold",
        },
        "status": {"phase": "Pending"},
    }
    # Capacity and access modes stay empty until the claim is bound.
    assert row("", "persistentvolumeclaims", pending) == [
        "scratch",
        "Pending",
        "",
        "",
        "",
        "",
        "gold",
        "30s",
        "<unset>",
    ]


def test_resource_quota_splits_requests_and_limits() -> None:
    quota = {
        "metadata": meta("compute", ago(days=1)),
        "status": {
            "hard": {
                "requests.cpu": "2",
                "limits.memory": "4Gi",
                "pods": "10",
                "limits.cpu": "4",
                "requests.memory": "2Gi",
            },
            "used": {
                "requests.cpu": "500m",
                "limits.cpu": "1",
                "pods": "3",
                "limits.memory": "1Gi",
            },
        },
    }
    # 1.31 prints AGE second (kubernetes#129419 moved it last in 1.33).
    assert row("", "resourcequotas", quota) == [
        "compute",
        "24h",
        "pods: 3/10, requests.cpu: 500m/2, requests.memory: 0/2Gi",
        "limits.cpu: 1/4, limits.memory: 1Gi/4Gi",
    ]


def test_pod_template() -> None:
    template = {
        "metadata": meta("tpl", ago(days=1)),
        "template": {
            "metadata": {"labels": {"tier": "web", "app": "shop"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    }
    assert row("", "podtemplates", template) == ["tpl", "web", "nginx", "app=shop,tier=web"]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("nodes", ["Name", "Status", "Roles", "Age", "Version"]),
        ("namespaces", ["Name", "Status", "Age"]),
        ("services", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]),
        ("endpoints", ["Name", "Endpoints", "Age"]),
        ("configmaps", ["Name", "Data", "Age"]),
        ("secrets", ["Name", "Type", "Data", "Age"]),
        ("serviceaccounts", ["Name", "Secrets", "Age"]),
        (
            "persistentvolumes",
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
            ],
        ),
        (
            "persistentvolumeclaims",
            [
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
            ],
        ),
        ("resourcequotas", ["Name", "Age", "Request", "Limit"]),
        ("podtemplates", ["Name", "Containers", "Images", "Pod Labels"]),
    ],
)
def test_columns_shown_without_wide(resource: str, expected: list[str]) -> None:
    assert [name for name, priority in headers("", resource) if priority == 0] == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            "nodes",
            ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"],
        ),
        ("services", ["Selector"]),
        ("persistentvolumes", ["VolumeMode"]),
        ("persistentvolumeclaims", ["VolumeMode"]),
        ("configmaps", []),
    ],
)
def test_wide_columns(resource: str, expected: list[str]) -> None:
    assert [name for name, priority in headers("", resource) if priority == 1] == expected
