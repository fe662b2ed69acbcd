"""The /etc/hosts each container of a pod sees, written by the kubelet (upstream's
``etc-hosts`` file, pkg/kubelet/kubelet_pods.go).

A pod with a network of its own gets a managed file: localhost, the IPv6 names
upstream writes, and the pod's IP with its host name (``<hostname>.<subdomain>.
<namespace>.svc.<domain>`` first when the pod has a ``subdomain``), then its
``hostAliases``. A pod on the host network keeps the node's file; upstream
copies it under its own header and appends the aliases, so only a pod with
aliases needs a file here (a mount costs a mount namespace, which without root
needs user namespaces). The kubelet writes ``pods/<uid>/etc-hosts`` and mounts
it writable at ``/etc/hosts`` in every container that does not mount a volume
there itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pynetes.kubelet.containers import pod_hostname
from pynetes.kubelet.runtime.interface import Mount

Object = dict[str, Any]
ETC_HOSTS = "/etc/hosts"
HOST_ETC_HOSTS = Path("/etc/hosts")
MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"


def managed_hosts(pod_ips: Sequence[str], hostname: str, domain: str, aliases: Any) -> str:
    """The file of a pod with its own network (upstream's managedHostsFileContent)."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    lines += [f"{ip}\t{names}" for ip in pod_ips]
    return MANAGED_HEADER + "".join(f"{line}\n" for line in lines) + alias_entries(aliases)


def host_network_hosts(node_hosts: str, aliases: Any) -> str:
    """The file of a pod on the host network: the node's, then the aliases."""
    return HOST_NETWORK_HEADER + node_hosts + alias_entries(aliases)


def alias_entries(aliases: Any) -> str:
    """``hostAliases`` as upstream appends them: one line per IP, its names tab-separated."""
    if not aliases:
        return ""
    lines = "".join(
        alias.get("ip", "") + "\t" + "\t".join(alias.get("hostnames") or ()) + "\n"
        for alias in aliases
    )
    return "\n# Entries added by HostAliases.\n" + lines


def mounts_etc_hosts(container: Object) -> bool:
    """The container mounts a volume at /etc/hosts: the kubelet leaves it alone."""
    mounts = container.get("volumeMounts") or ()
    return any(mount.get("mountPath") == ETC_HOSTS for mount in mounts)


class PodHostsFiles:
    """Forms and writes pods' etc-hosts files under ``pods_dir`` (one per pod uid)."""

    def __init__(
        self, pods_dir: Path, cluster_domain: str, node_hosts: Path = HOST_ETC_HOSTS
    ) -> None:
        self._pods_dir = pods_dir
        self._cluster_domain = cluster_domain or "cluster.local"
        self._node_hosts = node_hosts

    def content(self, pod: Object, pod_ip: str, *, own_network: bool) -> str | None:
        """The pod's /etc/hosts (None: the node's own file is what it needs, or its IP
        is not known yet)."""
        spec = pod.get("spec") or {}
        aliases = spec.get("hostAliases")
        if own_network and pod_ip:
            subdomain = spec.get("subdomain")
            namespace = pod["metadata"].get("namespace", "default")
            domain = f"{subdomain}.{namespace}.svc.{self._cluster_domain}" if subdomain else ""
            return managed_hosts([pod_ip], pod_hostname(pod), domain, aliases)
        if aliases:
            return host_network_hosts(self._read_node_hosts(), aliases)
        return None

    def write(self, uid: str, text: str) -> None:
        """Write the file of pod ``uid``. The caller writes it again only when the content
        it should have changes: as upstream's, writable, it keeps what a container
        wrote in it until then."""
        path = self._path(uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)

    def mount(self, uid: str) -> Mount:
        """The file of pod ``uid`` at /etc/hosts."""
        return Mount(container_path=ETC_HOSTS, host_path=str(self._path(uid)))

    def _path(self, uid: str) -> Path:
        return self._pods_dir / uid / "etc-hosts"

    def _read_node_hosts(self) -> str:
        try:
            return self._node_hosts.read_text()
        except OSError:
            return ""
