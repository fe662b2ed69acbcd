"""Each component's kubeconfig, as kubeadm writes them, and the user's merged context.

Every start re-issues them from the cluster CA (cheap with ECDSA keys), so that a
changed address or port reaches every component; the admin's file is
``D/kubeconfig`` (kubeadm's ``admin.conf``) and is merged into ``~/.kube/config`` as
the ``pynetes`` context on request.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pynetes.cluster.controlplane import NodeSettings
from pynetes.cluster.layout import ClusterLayout
from pynetes.pki.certificates import ADMIN_USER, MASTERS_GROUP, Pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, merge_kubeconfig, write_kubeconfig

CONTEXT = "pynetes"


def write_kubeconfigs(settings: NodeSettings) -> None:
    """admin (``kubeconfig``), ``scheduler.conf``, ``controller-manager.conf`` and
    ``kubelet.conf`` (the node's own identity, ``system:node:<name>``)."""
    layout = settings.layout
    users = {
        layout.admin_kubeconfig: (ADMIN_USER, [MASTERS_GROUP]),
        layout.kubeconfig_of("scheduler"): ("system:kube-scheduler", []),
        layout.kubeconfig_of("controller-manager"): ("system:kube-controller-manager", []),
        layout.kubeconfig_of("kubelet"): (f"system:node:{settings.node_name}", ["system:nodes"]),
    }
    for path, (user, groups) in users.items():
        write_client_kubeconfig(layout, settings.server, path, user, groups)


def write_client_kubeconfig(
    layout: ClusterLayout, server: str, path: Path, user: str, groups: list[str]
) -> None:
    """A kubeconfig at ``path`` for ``user`` (in ``groups``) with a fresh certificate."""
    pki = Pki(layout.pki)
    client = issue_client_certificate(pki.load_ca(), user, groups)
    config = kubeconfig(
        server=server,
        ca_pem=pki.ca_cert.read_bytes(),
        user=user,
        client=client,
        cluster=CONTEXT,
        context=CONTEXT,
    )
    write_kubeconfig(path, config)


def user_kubeconfig() -> Path:
    """The kubeconfig kubectl reads by default: the first of $KUBECONFIG, or ~/.kube/config."""
    listed = os.environ.get("KUBECONFIG", "")
    first = next((part for part in listed.split(os.pathsep) if part), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def merge_into_user_kubeconfig(layout: ClusterLayout) -> Path:
    """Add the cluster as context ``pynetes`` to the user's kubeconfig and make it the
    current context (the user asked for this cluster); the file's path."""
    target = user_kubeconfig()
    admin = yaml.safe_load(layout.admin_kubeconfig.read_text())
    admin["users"][0]["name"] = CONTEXT
    admin["contexts"][0]["context"]["user"] = CONTEXT
    merge_kubeconfig(target, admin, set_current_context=True)
    return target
