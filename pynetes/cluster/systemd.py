"""``pynetes systemd-units --out DIR``: the components as systemd services.

The other way to run Kubernetes: each component a service of the machine's init
system instead of a static pod (as "Kubernetes the hard way" does). The command
prepares the data folder as ``pynetes up`` would (PKI, each component's kubeconfig,
the kubelet's configuration, this time without ``staticPodPath``) and writes one unit
per component into DIR, each running ``python -m pynetes <component>`` with the very
flags the static pod manifests carry (:func:`control_plane_commands`), plus
``coredns.yaml``, the DNS add-on to apply with kubectl once the API answers::

    pynetes systemd-units --out /tmp/units --data-dir /var/lib/pynetes --node-ip 10.0.0.5
    cp /tmp/units/*.service /etc/systemd/system/ && systemctl daemon-reload
    systemctl enable --now kube-apiserver kube-controller-manager kube-scheduler \\
        kubelet kube-proxy
    kubectl --kubeconfig /var/lib/pynetes/kubeconfig apply -f /tmp/units/coredns.yaml
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from pynetes.cluster import addons
from pynetes.cluster.controlplane import ComponentCommand, NodeSettings, control_plane_commands
from pynetes.cluster.kubeconfigs import write_client_kubeconfig, write_kubeconfigs
from pynetes.cluster.node import (
    cluster_dns_ip,
    cluster_kubelet_configuration,
    kubelet_arguments,
    write_kubelet_config,
)
from pynetes.cluster.up import add_arguments as add_node_arguments
from pynetes.cluster.up import settings_from
from pynetes.pki.certificates import ensure_pki

DOCS = "https://kubernetes.io/docs/reference/command-line-tools-reference"


@dataclass(frozen=True)
class Unit:
    """One service: its name, what it is, its command line (``program`` on the first
    line, each flag on a line of its own), how systemd treats it."""

    name: str
    description: str
    program: tuple[str, ...]
    flags: tuple[str, ...]
    after: tuple[str, ...] = ()
    kill_mode: str = "control-group"

    @property
    def documentation(self) -> str:
        if self.name == "etcd":
            return "https://etcd.io/docs/"
        return f"{DOCS}/{self.name}/"

    def render(self) -> str:
        program = " ".join(shlex.quote(arg) for arg in self.program)
        command = " \\\n    ".join([program, *(shlex.quote(flag) for flag in self.flags)])
        after = " ".join(("network-online.target", *self.after))
        return (
            "[Unit]\n"
            f"Description={self.description}\n"
            f"Documentation={self.documentation}\n"
            "Wants=network-online.target\n"
            f"After={after}\n"
            "\n"
            "[Service]\n"
            f"ExecStart={command}\n"
            "Restart=always\n"
            "RestartSec=5\n"
            "LimitNOFILE=65536\n"
            f"KillMode={self.kill_mode}\n"
            "\n"
            "[Install]\n"
            "WantedBy=multi-user.target\n"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the folder to write into")
    add_node_arguments(parser)


def run(arguments: argparse.Namespace) -> int:
    settings = settings_from(arguments)
    arguments.out.mkdir(parents=True, exist_ok=True)
    prepare(settings)
    for unit in units(settings):
        (arguments.out / f"{unit.name}.service").write_text(unit.render())
    dns = addons.cluster_dns(cluster_dns_ip(settings.service_cidr), settings.cluster_domain)
    (arguments.out / "coredns.yaml").write_text(yaml.safe_dump_all(dns, sort_keys=False))
    print(f"wrote the units of node {settings.node_name} into {arguments.out}")
    return 0


def prepare(settings: NodeSettings) -> None:
    """The data folder the units read: PKI, kubeconfigs, the kubelet's configuration."""
    layout = settings.layout
    layout.claim()
    ensure_pki(layout.pki, ips=sorted({"127.0.0.1", settings.node_ip}))
    write_kubeconfigs(settings)
    write_client_kubeconfig(
        layout, settings.server, layout.kubeconfig_of("kube-proxy"), "system:kube-proxy", []
    )
    write_kubelet_config(settings, cluster_kubelet_configuration(settings), control_plane=False)


def units(settings: NodeSettings) -> list[Unit]:
    """One unit per component of a control-plane node that also runs pods."""
    python = (sys.executable, "-m", "pynetes")
    result = [_control_plane_unit(command, python) for command in control_plane_commands(settings)]
    result.append(
        Unit(
            "kubelet",
            "Kubernetes node agent: runs the pods of this node (pynetes)",
            (*python, "kubelet"),
            tuple(kubelet_arguments(settings)[1:]),
            after=("kube-apiserver.service",),
            # the pods' processes outlive a kubelet restart, as upstream's containers do
            kill_mode="process",
        )
    )
    proxy = (
        "proxy",
        f"--kubeconfig={settings.layout.kubeconfig_of('kube-proxy')}",
        "--mode=iptables",
        f"--hostname-override={settings.node_name}",
        f"--cluster-cidr={settings.cluster_cidr}",
        f"--service-cluster-ip-range={settings.service_cidr}",
    )
    result.append(
        Unit(
            "kube-proxy",
            "Kubernetes network proxy: Services made real on this node (pynetes)",
            (*python, proxy[0]),
            proxy[1:],
            after=("kube-apiserver.service",),
        )
    )
    return result


def _control_plane_unit(command: ComponentCommand, python: tuple[str, ...]) -> Unit:
    """The unit of a static pod's command; the API server comes after etcd (an ordering
    only: without an etcd unit it changes nothing), the others after the API server."""
    after = {"etcd": (), "kube-apiserver": ("etcd.service",)}.get(
        command.name, ("kube-apiserver.service",)
    )
    return Unit(
        command.name,
        f"Kubernetes {command.name} (pynetes)",
        command.program or (*python, command.argv[0]),
        command.argv if command.program else command.argv[1:],
        after=after,
    )
