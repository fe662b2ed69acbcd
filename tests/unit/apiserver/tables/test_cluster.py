"""Printers of the smaller groups: leases, priority classes, PDBs, RBAC bindings,
endpoint slices, ingresses, network policies, storage classes, webhooks, CSRs."""

from __future__ import annotations

from typing import Any

import pytest

from .support import ago, headers, meta, row


def test_lease() -> None:
    lease = {
        "metadata": meta("kube-scheduler", ago(days=5)),
        "spec": {"holderIdentity": "cp-1_4f1c", "leaseDurationSeconds": 15},
    }
    assert row("coordination.k8s.io", "leases", lease) == ["kube-scheduler", "cp-1_4f1c", "5d"]
    assert row("coordination.k8s.io", "leases", {"metadata": meta("free", ago(days=5))})[1] == ""


def test_priority_class() -> None:
    priority_class = {
        "metadata": meta("system-node-critical", ago(days=40)),
        "value": 2000001000,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert row("scheduling.k8s.io", "priorityclasses", priority_class) == [
        "system-node-critical",
        2000001000,
        False,
        "40d",
        "PreemptLowerPriority",
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"minAvailable": 2}, ["2", "N/A"]),
        ({"maxUnavailable": "25%"}, ["N/A", "25%"]),
    ],
)
def test_pod_disruption_budget(spec: dict[str, Any], expected: list[str]) -> None:
    budget = {
        "metadata": meta("web", ago(hours=1)),
        "spec": spec,
        "status": {"disruptionsAllowed": 1},
    }
    assert row("policy", "poddisruptionbudgets", budget) == ["web", *expected, 1, "60m"]


def test_role_bindings() -> None:
    binding = {
        "metadata": meta("admins", ago(days=2)),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        },
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "ops"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "deployer"},
            {"kind": "User", "name": "bob"},
        ],
    }
    expected = ["admins", "ClusterRole/admin", "2d", "alice, bob", "ops", "ci/deployer"]
    assert row("rbac.authorization.k8s.io", "rolebindings", binding) == expected
    assert row("rbac.authorization.k8s.io", "clusterrolebindings", binding) == expected


@pytest.mark.parametrize(
    ("ports", "endpoints", "expected"),
    [
        (
            [{"name": "http", "port": 80, "protocol": "TCP"}],
            [{"addresses": ["10.244.1.5"]}, {"addresses": ["10.244.2.6"]}],
            ["80", "10.244.1.5,10.244.2.6"],
        ),
        (
            [{"port": 1}, {"port": 2}, {"name": "named"}, {}, {"port": 5}],
            [{"addresses": [f"10.0.0.{i}" for i in range(5)]}],
            ["1,2,named + 2 more...", "10.0.0.0,10.0.0.1,10.0.0.2 + 2 more..."],
        ),
        ([{}], [], ["*", "<unset>"]),
        ([], [], ["<unset>", "<unset>"]),
    ],
)
def test_endpoint_slice(
    ports: list[dict[str, Any]], endpoints: list[dict[str, Any]], expected: list[str]
) -> None:
    endpoint_slice = {
        "metadata": meta("web-abc12", ago(minutes=4)),
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }
    assert row("discovery.k8s.io", "endpointslices", endpoint_slice) == [
        "web-abc12",
        "IPv4",
        *expected,
        "4m",
    ]


def test_ingress() -> None:
    ingress = {
        "metadata": meta("shop", ago(days=1, hours=2)),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {},
                {"host": "a.example.com"},
                {"host": "b.example.com"},
                {"host": "c.example.com"},
            ],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
    }
    assert row("networking.k8s.io", "ingresses", ingress) == [
        "shop",
        "nginx",
        "a.example.com,b.example.com,c.example.com",
        "203.0.113.7",
        "80, 443",
        "26h",
    ]


def test_ingress_without_hosts_class_or_address() -> None:
    ingress = {"metadata": meta("catch-all", ago(minutes=5)), "spec": {"rules": [{}]}}
    assert row("networking.k8s.io", "ingresses", ingress) == [
        "catch-all",
        "<none>",
        "*",
        "",
        "80",
        "5m",
    ]


def test_ingress_with_more_than_three_hosts() -> None:
    rules = [{"host": f"{name}.example.com"} for name in "abcde"]
    ingress = {"metadata": meta("many", ago(minutes=5)), "spec": {"rules": rules}}
    cells = row("networking.k8s.io", "ingresses", ingress)
    assert cells[2] == "a.example.com,b.example.com,c.example.com + 2 more..."


def test_ingress_class_and_network_policy() -> None:
    ingress_class = {
        "metadata": meta("nginx", ago(days=3)),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"},
        },
    }
    assert row("networking.k8s.io", "ingressclasses", ingress_class) == [
        "nginx",
        "k8s.io/ingress-nginx",
        "IngressParameters.k8s.example.com/p",
        "3d",
    ]
    policy = {"metadata": meta("deny-all", ago(days=3)), "spec": {"podSelector": {}}}
    assert row("networking.k8s.io", "networkpolicies", policy) == ["deny-all", "<none>", "3d"]


def test_default_storage_class() -> None:
    storage_class = {
        "metadata": meta(
            "standard",
            ago(days=3),
            annotations={"storageclass.kubernetes.io/is-default-class": "true"},
        ),
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert row("storage.k8s.io", "storageclasses", storage_class) == [
        "standard (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "3d",
    ]


def test_webhooks_runtime_classes_and_csrs() -> None:
    webhooks = {"metadata": meta("policy", ago(days=3)), "webhooks": [{"name": "a"}, {"name": "b"}]}
    group = "admissionregistration.k8s.io"
    assert row(group, "validatingwebhookconfigurations", webhooks) == ["policy", 2, "3d"]
    assert row(group, "mutatingwebhookconfigurations", webhooks) == ["policy", 2, "3d"]
    runtime_class = {"metadata": meta("gvisor", ago(days=3)), "handler": "runsc"}
    assert row("node.k8s.io", "runtimeclasses", runtime_class) == ["gvisor", "runsc", "3d"]
    csr = {
        "metadata": meta("csr-8x2", ago(minutes=1)),
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "username": "system:node:node-1",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }
    assert row("certificates.k8s.io", "certificatesigningrequests", csr) == [
        "csr-8x2",
        "60s",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "system:node:node-1",
        "24h",
        "Approved,Issued",
    ]


@pytest.mark.parametrize(
    ("group", "resource", "expected"),
    [
        ("coordination.k8s.io", "leases", [("Name", 0), ("Holder", 0), ("Age", 0)]),
        (
            "scheduling.k8s.io",
            "priorityclasses",
            [("Name", 0), ("Value", 0), ("Global-Default", 0), ("Age", 0), ("PreemptionPolicy", 0)],
        ),
        (
            "policy",
            "poddisruptionbudgets",
            [
                ("Name", 0),
                ("Min Available", 0),
                ("Max Unavailable", 0),
                ("Allowed Disruptions", 0),
                ("Age", 0),
            ],
        ),
        (
            "rbac.authorization.k8s.io",
            "rolebindings",
            [
                ("Name", 0),
                ("Role", 0),
                ("Age", 0),
                ("Users", 1),
                ("Groups", 1),
                ("ServiceAccounts", 1),
            ],
        ),
        (
            "discovery.k8s.io",
            "endpointslices",
            [("Name", 0), ("AddressType", 0), ("Ports", 0), ("Endpoints", 0), ("Age", 0)],
        ),
    ],
)
def test_columns(group: str, resource: str, expected: list[tuple[str, int]]) -> None:
    assert headers(group, resource) == expected
