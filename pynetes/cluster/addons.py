"""The cluster's add-ons, as kubeadm installs them: kube-proxy and cluster DNS in
``kube-system``.

:func:`kube_proxy` is kubeadm's kube-proxy add-on: a ``kube-proxy`` ServiceAccount, a
``kube-proxy`` ConfigMap whose ``kubeconfig.conf`` reaches the control plane directly
(the proxy makes the ``kubernetes`` Service work, so it cannot depend on it) with the
pod's service-account token, and a DaemonSet running ``pynetes proxy`` on every node's
host network, tolerating every taint.

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

import yaml

from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient

Object = dict[str, Any]
NAMESPACE = "kube-system"
LABELS = {"k8s-app": "kube-dns"}
HEALTH_PORT = 8080
METRICS_PORT = 9153


PROXY_KUBECONFIG_DIR = "/var/lib/kube-proxy"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def kube_proxy(server: str, *, mode: str, cluster_cidr: str, service_cidr: str) -> list[Object]:
    """The ServiceAccount, ConfigMap and DaemonSet of kube-proxy (``mode``: iptables or
    userspace) reaching the API server at ``server``."""
    labels = {"k8s-app": "kube-proxy"}
    proxy_kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {
                    "server": server,
                    "certificate-authority": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
                },
            }
        ],
        "users": [{"name": "default", "user": {"tokenFile": f"{SERVICE_ACCOUNT_DIR}/token"}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
    }
    container = {
        "name": "kube-proxy",
        "image": "pynetes",
        "args": [
            "proxy",
            f"--kubeconfig={PROXY_KUBECONFIG_DIR}/kubeconfig.conf",
            f"--mode={mode}",
            "--hostname-override=$(NODE_NAME)",
            f"--cluster-cidr={cluster_cidr}",
            f"--service-cluster-ip-range={service_cidr}",
        ],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "securityContext": {"privileged": True},
        "volumeMounts": [{"name": "kube-proxy", "mountPath": PROXY_KUBECONFIG_DIR}],
    }
    return [
        _service_account("kube-proxy"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": NAMESPACE, "labels": dict(labels)},
            "data": {"kubeconfig.conf": yaml.safe_dump(proxy_kubeconfig, sort_keys=False)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": NAMESPACE, "labels": dict(labels)},
            "spec": {
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "serviceAccountName": "kube-proxy",
                        "priorityClassName": "system-node-critical",
                        "hostNetwork": True,
                        "tolerations": [{"operator": "Exists"}],
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [container],
                        "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
                    },
                },
            },
        },
    ]


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
        _service_account("coredns"),
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


def _service_account(name: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": NAMESPACE},
    }


_RESOURCES: dict[str, Resource] = {
    "ServiceAccount": built_in("", "v1", "serviceaccounts"),
    "Deployment": built_in("apps", "v1", "deployments"),
    "DaemonSet": built_in("apps", "v1", "daemonsets"),
    "ConfigMap": built_in("", "v1", "configmaps"),
    "Service": built_in("", "v1", "services"),
}


async def apply(client: ApiClient, objects: list[Object]) -> None:
    """Create each object unless it exists (add-ons are installed once, then left to
    their owners, as kubeadm does). Existence is asked first: creating a Service that
    exists again fails on its cluster IP (422) before its name would (409)."""
    for obj in objects:
        resource = _RESOURCES[obj["kind"]]
        metadata = obj["metadata"]
        try:
            await client.get(resource, metadata["name"], namespace=metadata.get("namespace"))
            continue
        except errors.NotFound:
            pass
        try:
            await client.create(resource, obj)
        except errors.AlreadyExists:
            continue
