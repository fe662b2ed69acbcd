"""The resolv.conf each container of a pod sees, written by the kubelet (upstream's
``/etc/resolv.conf`` of a pod sandbox).

With ``clusterDNS`` configured, a pod that is not on the host network resolves
through the cluster DNS (resolvconf.py has the rules per ``dnsPolicy``): the
kubelet writes ``pods/<uid>/resolv.conf`` and every container gets it at
``/etc/resolv.conf`` (a read-only bind mount in its private mount namespace).
Without ``clusterDNS``, or for host-network pods under the default policy,
containers keep the host's file and nothing is mounted (nor whenever the pod's
configuration is the host's). What upstream reports
as Events (``MissingClusterDNS``, ``DNSConfigForming``) is returned to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pynetes.kubelet.resolvconf import DNSConfig, parse_resolv_conf, pod_dns
from pynetes.kubelet.runtime.interface import Mount

Object = dict[str, Any]
HOST_RESOLV_CONF = Path("/etc/resolv.conf")


class PodDnsFiles:
    """Writes pods' resolv.conf files under ``pods_dir`` (one per pod uid)."""

    def __init__(
        self,
        pods_dir: Path,
        cluster_dns: Sequence[str],
        cluster_domain: str,
        host_resolv_conf: Path | None = HOST_RESOLV_CONF,
    ) -> None:
        self._pods_dir = pods_dir
        self._cluster_dns = tuple(cluster_dns)
        self._cluster_domain = cluster_domain or "cluster.local"
        self._host = _read_host(host_resolv_conf)

    def prepare(self, pod: Object) -> tuple[list[Mount], list[tuple[str, str]]]:
        """The mounts every container of ``pod`` gets, and the (reason, message) warnings."""
        result = pod_dns(
            pod,
            cluster_dns=self._cluster_dns,
            cluster_domain=self._cluster_domain,
            host=self._host,
        )
        warnings = list(result.warnings)
        if result.config == self._host:
            return [], warnings  # the host's own file is what the pod needs
        path = self._pods_dir / pod["metadata"]["uid"] / "resolv.conf"
        text = result.config.render()
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        mount = Mount(container_path="/etc/resolv.conf", host_path=str(path), read_only=True)
        return [mount], warnings


def _read_host(path: Path | None) -> DNSConfig | None:
    if path is None or not path.exists():
        return None
    return parse_resolv_conf(path.read_text())
