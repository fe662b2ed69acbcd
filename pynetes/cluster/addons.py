"""The cluster's add-ons, as kubeadm installs them: cluster DNS in ``kube-system``.

:func:`cluster_dns` is what kubeadm's CoreDNS add-on is, with ``pynetes dns`` in
CoreDNS's place: a ``coredns`` ServiceAccount, a ``coredns`` Deployment (label
``k8s-app: kube-dns``; the server reads the API with its pod's service account,
answers on port 53 of its pod's own network, ``/health`` and ``/ready`` for its
probes, CoreDNS's metrics on 9153) and the ``kube-dns`` Service at the cluster
DNS address that kubelets write into pods' resolv.conf (``clusterDNS``). Apply
them with any client (``kubectl apply``, or :func:`apply`).
"""

from __future__ import annotations

import sys
from typing import Any

from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient

Object = dict[str, Any]
NAMESPACE = "kube-system"
LABELS = {"k8s-app": "kube-dns"}
HEALTH_PORT = 8080
METRICS_PORT = 9153


def cluster_dns(
    cluster_ip: str, cluster_domain: str = "cluster.local", replicas: int = 1
) -> list[Object]:
    """The ServiceAccount, Deployment and Service of the cluster DNS."""
    command = [
        sys.executable, "-m", "pynetes", "dns",
        "--listen", "0.0.0.0:53",
        "--cluster-domain", cluster_domain,
        "--health-port", str(HEALTH_PORT),
        "--metrics-port", str(METRICS_PORT),
    ]  # fmt: skip
    container = {
        "name": "coredns",
        "image": "pynetes",
        "command": command,
        "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": HEALTH_PORT},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "failureThreshold": 5,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": HEALTH_PORT}, "periodSeconds": 1},
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": NAMESPACE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(LABELS)},
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        "dnsPolicy": "Default",
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {
                                "key": "node-role.kubernetes.io/control-plane",
                                "effect": "NoSchedule",
                            },
                        ],
                        "containers": [container],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": NAMESPACE,
                "labels": {**LABELS, "kubernetes.io/name": "CoreDNS"},
            },
            "spec": {
                "clusterIP": cluster_ip,
                "selector": dict(LABELS),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": METRICS_PORT, "protocol": "TCP"},
                ],
            },
        },
    ]


_RESOURCES: dict[str, Resource] = {
    "ServiceAccount": built_in("", "v1", "serviceaccounts"),
    "Deployment": built_in("apps", "v1", "deployments"),
    "Service": built_in("", "v1", "services"),
}


async def apply(client: ApiClient, objects: list[Object]) -> None:
    """Create each object unless it exists (add-ons are installed once, then left to
    their owners, as kubeadm does)."""
    for obj in objects:
        try:
            await client.create(_RESOURCES[obj["kind"]], obj)
        except errors.AlreadyExists:
            continue
