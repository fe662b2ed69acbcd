"""What a control plane publishes for nodes that join it, as kubeadm's init does.

``kube-public/cluster-info``: a kubeconfig with the API server's address and the
cluster CA, which anyone may read and which the bootstrapsigner signs for each
bootstrap token (``pynetes join`` trusts it only with a valid signature and the CA's
pinned hash). ``kube-system/kubelet-config``: the KubeletConfiguration every kubelet
shares (key ``kubelet``), read by joining nodes with their bootstrap token.
"""

from __future__ import annotations

from typing import Any

import yaml

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.cluster.bootstraptoken import cluster_info_configmap

Object = dict[str, Any]
CONFIG_MAPS = built_in("", "v1", "configmaps")
KUBELET_CONFIG = ("kube-system", "kubelet-config")
KUBELET_CONFIG_KEY = "kubelet"


async def publish(client: ApiClient, server: str, ca_pem: bytes, kubelet_config: Object) -> None:
    """Create or update both ConfigMaps (a control plane brought back at another
    address publishes the new one)."""
    namespace, name = KUBELET_CONFIG
    kubelet_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {KUBELET_CONFIG_KEY: yaml.safe_dump(kubelet_config)},
    }
    for config_map in (cluster_info_configmap(server, ca_pem), kubelet_map):
        await _create_or_update_data(client, config_map)


async def read_kubelet_config(client: ApiClient) -> Object:
    """The cluster's shared KubeletConfiguration (what :func:`publish` wrote)."""
    namespace, name = KUBELET_CONFIG
    config_map = await client.get(CONFIG_MAPS, name, namespace=namespace)
    config = yaml.safe_load((config_map.get("data") or {}).get(KUBELET_CONFIG_KEY) or "")
    if not isinstance(config, dict):
        raise ValueError(f"ConfigMap {namespace}/{name} holds no KubeletConfiguration")
    return config


async def _create_or_update_data(client: ApiClient, config_map: Object) -> None:
    metadata = config_map["metadata"]
    try:
        await client.create(CONFIG_MAPS, config_map, namespace=metadata["namespace"])
    except errors.AlreadyExists:
        await client.patch(
            CONFIG_MAPS,
            metadata["name"],
            {"data": config_map["data"]},
            namespace=metadata["namespace"],
        )
