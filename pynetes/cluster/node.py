"""The kubelet of a cluster node, as kubeadm configures it, and the node's role.

:func:`write_kubelet_config` writes the KubeletConfiguration (``staticPodPath`` on
the control plane's manifests, the cluster DNS address, the cluster CA for clients
of the kubelet API); :func:`kubelet_arguments` is the kubelet's command line. A
control-plane node registers with kubeadm's ``node-role.kubernetes.io/control-plane``
NoSchedule taint; :func:`mark_control_plane` adds the role labels (a kubelet may not
set ``node-role`` labels on itself, so kubeadm does it through the API) and, on a
single-node cluster, removes the taint so that workloads run there.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from pynetes.cluster.controlplane import NodeSettings

Object = dict[str, Any]

NODES = built_in("", "v1", "nodes")
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_ROLE, "effect": "NoSchedule"}
#: kubeadm labels control-plane nodes so that load balancers skip them.
EXCLUDE_FROM_LOAD_BALANCERS = "node.kubernetes.io/exclude-from-external-load-balancers"


def cluster_dns_ip(service_cidr: str) -> str:
    """The DNS Service's address: the tenth of the service range, as kubeadm's."""
    network = ipaddress.ip_network(service_cidr)
    return str(network.network_address + 10)


def cluster_kubelet_configuration(settings: NodeSettings) -> Object:
    """What every kubelet of the cluster is told alike (kubeadm's ``kubelet-config``
    ConfigMap, which joining nodes read): the cluster DNS address and domain."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "clusterDNS": [cluster_dns_ip(settings.service_cidr)],
        "clusterDomain": settings.cluster_domain,
    }


def kubelet_configuration(
    settings: NodeSettings, cluster_part: Object, *, control_plane: bool
) -> Object:
    """``cluster_part`` with what is this node's own: addresses, ports, folders, the CA
    its API's clients must be signed by, and on a control-plane node the static pods."""
    config: Object = {
        **cluster_part,
        "address": settings.node_ip,
        "port": settings.kubelet_port,
        "healthzPort": settings.kubelet_healthz_port,
        "authentication": {"x509": {"clientCAFile": str(settings.layout.pki / "ca.crt")}},
        "podLogsDir": str(settings.layout.kubelet_dir / "pod-logs"),
    }
    if control_plane:
        config["staticPodPath"] = str(settings.layout.manifests)
        config["registerWithTaints"] = [CONTROL_PLANE_TAINT]
    return config


def write_kubelet_config(
    settings: NodeSettings, cluster_part: Object, *, control_plane: bool
) -> Path:
    path = settings.layout.kubelet_config
    path.parent.mkdir(parents=True, exist_ok=True)
    config = kubelet_configuration(settings, cluster_part, control_plane=control_plane)
    path.write_text(yaml.safe_dump(config))
    return path


def kubelet_arguments(
    settings: NodeSettings, *, bootstrap_kubeconfig: Path | None = None
) -> list[str]:
    """``pynetes kubelet ...`` for this node (TLS bootstrap when ``bootstrap_kubeconfig``)."""
    layout = settings.layout
    arguments = [
        "kubelet",
        f"--kubeconfig={layout.kubeconfig_of('kubelet')}",
        f"--config={layout.kubelet_config}",
        f"--root-dir={layout.kubelet_dir}",
        f"--node-name={settings.node_name}",
        f"--node-ip={settings.node_ip}",
        f"--cni-bin-dir={settings.cni_bin_dir}",
    ]
    if bootstrap_kubeconfig is not None:
        arguments.append(f"--bootstrap-kubeconfig={bootstrap_kubeconfig}")
    return arguments


async def mark_control_plane(client: ApiClient, node_name: str, *, single_node: bool) -> Object:
    """Label the node as a control-plane node; untaint it when it is the only node."""
    node = await client.get(NODES, node_name)
    labels = {CONTROL_PLANE_ROLE: "", EXCLUDE_FROM_LOAD_BALANCERS: ""}
    patch: Object = {"metadata": {"labels": labels}}
    if single_node:
        taints = (node.get("spec") or {}).get("taints") or []
        kept = [taint for taint in taints if taint.get("key") != CONTROL_PLANE_ROLE]
        if len(kept) != len(taints):
            patch["spec"] = {"taints": kept or None}
    return await client.patch(NODES, node_name, patch)
