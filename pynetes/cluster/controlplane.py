"""The control plane of one node: each component's command line, and its static pod.

:class:`NodeSettings` is what ``pynetes up``/``init`` were told (ports, addresses,
ranges, storage). From it, :func:`control_plane_commands` gives each component's
``pynetes`` arguments with upstream's flag names; :func:`static_pod` wraps one in the
manifest kubeadm would write to ``/etc/kubernetes/manifests`` (hostNetwork, labels
``component``/``tier: control-plane``, priority ``system-node-critical``, probes on
the component's health endpoint, hostPath volumes for what it reads). The same
commands become systemd units (:mod:`pynetes.cluster.systemd`), so the two ways to
run the components cannot drift apart.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import pynetes
from pynetes.cluster.layout import ClusterLayout

Object = dict[str, Any]

NAMESPACE = "kube-system"
#: The image the process runtime runs ``python -m pynetes`` for (see kubelet images).
IMAGE = f"pynetes:{pynetes.__version__}"


@dataclass(frozen=True)
class NodeSettings:
    """What a node of the cluster is told at ``up``/``init``/``join``.

    ``node_ip`` is the address the node is known by (its InternalIP, the API server's
    advertise address on a control-plane node); pods must be able to reach it.
    """

    layout: ClusterLayout
    node_name: str
    node_ip: str = "127.0.0.1"
    api_port: int = 6443
    api_bind_address: str = "127.0.0.1"
    storage: str = "sqlite"
    etcd_servers: str = ""
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    service_cidr: str = "10.96.0.0/12"
    cluster_cidr: str = "10.244.0.0/16"
    cluster_domain: str = "cluster.local"
    scheduler_port: int = 10251
    controller_manager_port: int = 10252
    kubelet_port: int = 10250
    kubelet_healthz_port: int = 10248
    cni_bin_dir: Path = Path("/usr/lib/cni")
    extra_sans: tuple[str, ...] = field(default=())

    @property
    def server(self) -> str:
        """The API server's URL as clients on this machine dial it."""
        return f"https://{self.api_bind_address}:{self.api_port}"

    @property
    def manages_etcd(self) -> bool:
        """Whether etcd runs here as a static pod (``--storage etcd`` without servers)."""
        return self.storage == "etcd" and not self.etcd_servers

    @property
    def etcd_endpoints(self) -> str:
        if self.etcd_servers:
            return self.etcd_servers
        return f"http://127.0.0.1:{self.etcd_client_port}"


@dataclass(frozen=True)
class Probe:
    """A component's health endpoint: what its static pod's probes ask."""

    path: str
    port: int
    scheme: str = "HTTP"
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class ComponentCommand:
    """One control-plane component: its upstream name, its argv, what it reads."""

    name: str  # kube-apiserver, kube-controller-manager, kube-scheduler, etcd
    argv: tuple[str, ...]  # after the program (``python -m pynetes`` or etcd)
    probe: Probe
    host_paths: tuple[Path, ...]
    program: tuple[str, ...] = ()  # empty: the pynetes image's entrypoint


def control_plane_commands(settings: NodeSettings) -> list[ComponentCommand]:
    """The components of a control-plane node, in start order."""
    commands = []
    if settings.manages_etcd:
        commands.append(_etcd(settings))
    commands += [_apiserver(settings), _controller_manager(settings), _scheduler(settings)]
    return commands


def _apiserver(settings: NodeSettings) -> ComponentCommand:
    layout = settings.layout
    argv = [
        "apiserver",
        f"--data-dir={layout.root}",
        f"--pki-dir={layout.pki}",
        f"--bind-address={settings.api_bind_address}",
        f"--advertise-address={settings.node_ip}",
        f"--secure-port={settings.api_port}",
        f"--service-cluster-ip-range={settings.service_cidr}",
        f"--storage={settings.storage}",
    ]
    if settings.storage == "etcd":
        argv.append(f"--etcd-servers={settings.etcd_endpoints}")
    argv.append("--enable-bootstrap-token-auth")
    argv.append(f"--scheduler-health-url=http://127.0.0.1:{settings.scheduler_port}/healthz")
    argv.append(
        "--controller-manager-health-url="
        f"http://127.0.0.1:{settings.controller_manager_port}/healthz"
    )
    return ComponentCommand(
        "kube-apiserver",
        tuple(argv),
        Probe("/livez", settings.api_port, "HTTPS", settings.api_bind_address),
        (layout.root,),
    )


def _controller_manager(settings: NodeSettings) -> ComponentCommand:
    layout = settings.layout
    argv = [
        "controller-manager",
        f"--kubeconfig={layout.kubeconfig_of('controller-manager')}",
        f"--port={settings.controller_manager_port}",
        "--allocate-node-cidrs",
        f"--cluster-cidr={settings.cluster_cidr}",
        f"--root-ca-file={layout.pki / 'ca.crt'}",
        # kubelets joining with a bootstrap token: their CSRs approved and signed,
        # cluster-info signed for each token, expired tokens removed (kubeadm's set)
        "--controllers=*,bootstrapsigner,tokencleaner",
        f"--cluster-signing-cert-file={layout.pki / 'ca.crt'}",
        f"--cluster-signing-key-file={layout.pki / 'ca.key'}",
        # on start it lists and watches some 35 resources before its controllers write
        # anything: with upstream's burst of 30 its first writes (the cluster CA and
        # ServiceAccount of each namespace) queue behind them for seconds
        "--kube-api-burst=100",
    ]
    return ComponentCommand(
        "kube-controller-manager",
        tuple(argv),
        Probe("/healthz", settings.controller_manager_port),
        (layout.pki, layout.kubeconfig_of("controller-manager")),
    )


def _scheduler(settings: NodeSettings) -> ComponentCommand:
    argv = [
        "scheduler",
        f"--kubeconfig={settings.layout.kubeconfig_of('scheduler')}",
        f"--port={settings.scheduler_port}",
    ]
    return ComponentCommand(
        "kube-scheduler",
        tuple(argv),
        Probe("/healthz", settings.scheduler_port),
        (settings.layout.kubeconfig_of("scheduler"),),
    )


def _etcd(settings: NodeSettings) -> ComponentCommand:
    client = f"http://127.0.0.1:{settings.etcd_client_port}"
    peer = f"http://127.0.0.1:{settings.etcd_peer_port}"
    argv = [
        f"--name={settings.node_name}",
        f"--data-dir={settings.layout.etcd_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={settings.node_name}={peer}",
        "--listen-metrics-urls=",
    ]
    return ComponentCommand(
        "etcd",
        tuple(argv),
        Probe("/health", settings.etcd_client_port),
        (settings.layout.etcd_dir,),
        program=(etcd_binary(),),
    )


def etcd_binary() -> str:
    """The machine's etcd server; MissingToolError naming the package when absent."""
    found = shutil.which("etcd")
    if found is None:
        raise MissingToolError(
            "--storage etcd runs the machine's etcd server, and there is none on PATH: "
            "install it (Debian: apt-get install etcd-server) or give --etcd-servers"
        )
    return found


class MissingToolError(Exception):
    """A program the cluster needs is not on this machine; the message says what to do."""


def static_pod(command: ComponentCommand) -> Object:
    """The static pod manifest that runs ``command`` (kubeadm's shape)."""
    probe = command.probe
    http_get = {"host": probe.host, "path": probe.path, "port": probe.port, "scheme": probe.scheme}
    container: Object = {
        "name": command.name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {
            "httpGet": http_get,
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 15,
            "failureThreshold": 8,
        },
        "startupProbe": {
            "httpGet": http_get,
            "periodSeconds": 1,
            "timeoutSeconds": 15,
            "failureThreshold": 60,
        },
        "resources": {"requests": {"cpu": "100m"}},
        "volumeMounts": [
            {"name": _volume_name(path), "mountPath": str(path)} for path in command.host_paths
        ],
    }
    if command.program:
        container["command"] = [*command.program, *command.argv]
    else:
        container["args"] = list(command.argv)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": command.name,
            "namespace": NAMESPACE,
            "labels": {"component": command.name, "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [container],
            "volumes": [
                {
                    "name": _volume_name(path),
                    "hostPath": {"path": str(path), "type": _host_path_type(path)},
                }
                for path in command.host_paths
            ],
        },
    }


def write_manifests(settings: NodeSettings) -> list[Path]:
    """Write the control plane's manifests into ``manifests/``; the files changed.

    A file whose content would not change is left alone, so that bringing a cluster
    back does not restart what runs; one that differs (new flags) is replaced
    atomically, and the kubelet restarts that component.
    """
    commands = control_plane_commands(settings)
    folder = settings.layout.manifests
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for command in commands:
        path = folder / f"{command.name}.yaml"
        text = yaml.safe_dump(static_pod(command), sort_keys=False)
        if path.exists() and path.read_text() == text:
            continue
        temporary = folder / f".{command.name}.yaml.tmp"
        temporary.write_text(text)
        temporary.rename(path)
        changed.append(path)
    return changed


def _volume_name(path: Path) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in path.name.lower()).strip("-")
    return cleaned or "root"


def _host_path_type(path: Path) -> str:
    return "File" if path.suffix == ".conf" else "DirectoryOrCreate"
