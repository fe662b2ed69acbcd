"""``pynetes up`` and ``pynetes init``: a cluster bootstrapped the kubeadm way.

On a data folder (see :mod:`pynetes.cluster.layout`) they generate the PKI and each
component's kubeconfig, write the control plane's static pod manifests (etcd with
``--storage etcd``, kube-apiserver, kube-controller-manager, kube-scheduler) into
``manifests/``, and start the kubelet with ``staticPodPath`` on that folder: the
kubelet runs the control plane, and once the API answers, mirrors those pods into
``kube-system``. Then the node is marked as a control-plane node, the add-ons
(kube-proxy DaemonSet, DNS Deployment) are applied, and ``up`` waits until the node
is Ready and every kube-system pod Running. It stays in the foreground until Ctrl-C
or SIGTERM, then stops the kubelet and every container it ran. On a data folder that
holds a cluster, the same cluster comes back with its state.

``up`` makes a single-node cluster (the control-plane taint is removed); ``init``
keeps the taint, turns on bootstrap tokens and prints how other nodes join.

Networking: as root, pods get network namespaces of their own (CNI), and the node is
given a host-local address (``--node-ip``, default 10.200.0.1, made local by a route
on ``lo``: reachable from this machine and its pods, not routed off it) on which the
API server listens, so that pods reach it through the ``kubernetes`` Service. Without
root, pods share the host network, everything listens on 127.0.0.1, and kube-proxy
and DNS are not deployed (they need root): ``up`` says so.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.cluster import addons, published, readiness
from pynetes.cluster.bootstraptoken import generate_token, token_secret
from pynetes.cluster.controlplane import (
    MissingToolError,
    NodeSettings,
    etcd_binary,
    write_manifests,
)
from pynetes.cluster.host import (
    StartError,
    check_node_tools,
    check_ports_free,
    claim_node_address,
    release_node_address,
    stop_on_signals,
    stop_pods,
)
from pynetes.cluster.kubeconfigs import merge_into_user_kubeconfig, write_kubeconfigs
from pynetes.cluster.layout import ClusterLayout, DataFolderError
from pynetes.cluster.node import (
    cluster_dns_ip,
    cluster_kubelet_configuration,
    kubelet_arguments,
    mark_control_plane,
    write_kubelet_config,
)
from pynetes.cluster.output import say
from pynetes.cluster.processes import Child, start_child, stop_children
from pynetes.cluster.supervise import become_supervisor
from pynetes.cluster.token import join_command
from pynetes.pki.certificates import ensure_pki

DEFAULT_NODE_IP = "10.200.0.1"
SECRETS = built_in("", "v1", "secrets")
READY_TIMEOUT = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".pynetes")
    parser.add_argument("--api-port", type=int, default=6443)
    parser.add_argument("--storage", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument(
        "--etcd-servers", default="", help="an etcd cluster to use (default: run one here)"
    )
    parser.add_argument("--node-name", default=socket.gethostname().lower())
    parser.add_argument(
        "--node-ip",
        help=f"the node's address, on which the API server listens (root: {DEFAULT_NODE_IP}, "
        "made local to this machine; otherwise 127.0.0.1)",
    )
    parser.add_argument("--service-cidr", default="10.96.0.0/12")
    parser.add_argument("--pod-network-cidr", default="10.244.0.0/16")
    parser.add_argument(
        "--cni-bin-dir", type=Path, default=Path("/usr/lib/cni"), help="the CNI plugins"
    )
    parser.add_argument("--scheduler-port", type=int, default=10251)
    parser.add_argument("--controller-manager-port", type=int, default=10252)
    parser.add_argument("--kubelet-port", type=int, default=10250)
    parser.add_argument("--kubelet-healthz-port", type=int, default=10248)
    parser.add_argument(
        "--no-merge-kubeconfig",
        action="store_true",
        help="do not add the 'pynetes' context to ~/.kube/config",
    )


def run(arguments: argparse.Namespace, *, single_node: bool = True) -> int:
    try:
        return asyncio.run(_up(arguments, single_node=single_node))
    except (StartError, DataFolderError, MissingToolError) as error:
        say(f"error: {error}")
        return 1


def run_init(arguments: argparse.Namespace) -> int:
    return run(arguments, single_node=False)


def settings_from(arguments: argparse.Namespace) -> NodeSettings:
    root = os.geteuid() == 0
    node_ip = arguments.node_ip or (DEFAULT_NODE_IP if root else "127.0.0.1")
    return NodeSettings(
        layout=ClusterLayout(arguments.data_dir.expanduser().resolve()),
        node_name=arguments.node_name,
        node_ip=node_ip,
        api_port=arguments.api_port,
        api_bind_address=node_ip,
        storage=arguments.storage,
        etcd_servers=arguments.etcd_servers,
        service_cidr=arguments.service_cidr,
        cluster_cidr=arguments.pod_network_cidr,
        scheduler_port=arguments.scheduler_port,
        controller_manager_port=arguments.controller_manager_port,
        kubelet_port=arguments.kubelet_port,
        kubelet_healthz_port=arguments.kubelet_healthz_port,
        cni_bin_dir=arguments.cni_bin_dir,
    )


async def _up(arguments: argparse.Namespace, *, single_node: bool) -> int:
    started = time.monotonic()
    settings = settings_from(arguments)
    layout = settings.layout
    stop = stop_on_signals()
    await asyncio.to_thread(layout.claim)
    node_address = await claim_node_address(settings.node_ip)
    children: list[Child] = []
    try:
        check_ports_free(_ports(settings))
        if settings.manages_etcd:
            etcd_binary()
        check_node_tools(settings.cni_bin_dir)
        await _prepare(settings)
        say(f"starting the kubelet; it runs the control plane from {layout.manifests}")
        kubelet_started = datetime.now(UTC)
        children.append(await start_child(layout.logs, "kubelet", kubelet_arguments(settings)))
        # unthrottled: a few polls a second while it waits, then nothing
        config = dataclasses.replace(load_config(layout.admin_kubeconfig), qps=0)
        async with ApiClient(config) as client:
            watch = readiness.Watch(client, children, stop, say=say, patience=READY_TIMEOUT)
            if not await watch.api_ready():
                return 1
            say(f"kube-apiserver answers at {settings.server}")
            if not await watch.node_registered(settings.node_name):
                return 1
            await mark_control_plane(client, settings.node_name, single_node=single_node)
            ca_pem = await asyncio.to_thread(layout.pki.joinpath("ca.crt").read_bytes)
            await published.publish(
                client, settings.server, ca_pem, cluster_kubelet_configuration(settings)
            )
            if not await watch.controllers_working():
                return 1
            deployed = await _apply_addons(client, settings)
            if not await watch.cluster_ready(settings.node_name, kubelet_started):
                return 1
            if deployed and not await watch.cluster_dns_answers(
                cluster_dns_ip(settings.service_cidr),
                f"kubernetes.default.svc.{settings.cluster_domain}",
            ):
                return 1
        if not arguments.no_merge_kubeconfig:
            merged = await asyncio.to_thread(merge_into_user_kubeconfig, layout)
            say(f"added the 'pynetes' context to {merged}")
        say(_how_to_use(settings, time.monotonic() - started, single_node=single_node))
        if not single_node:
            async with ApiClient(config) as client:
                join = await _new_join_command(client)
            say(f"other nodes join with (the token is valid for 24 h):\n  {join}")
        # exec: this process becomes the supervisor, which stops the node when told to
        # (the finally below runs only when bringing the node up failed)
        kubelet = children[0].process.pid
        become_supervisor(layout.root, kubelet, settings.node_ip if node_address else None)
    finally:
        if children:
            await stop_children(children)
            await stop_pods(layout)
        if node_address:
            await release_node_address(settings.node_ip)
        if children:
            say("stopped")


async def _prepare(settings: NodeSettings) -> None:
    """PKI, kubeconfigs, manifests and the kubelet's configuration (what exists is kept)."""
    layout = settings.layout
    await asyncio.to_thread(
        ensure_pki,
        layout.pki,
        ips=sorted({"127.0.0.1", settings.node_ip}),
        service_cidr=settings.service_cidr,
    )
    await asyncio.to_thread(write_kubeconfigs, settings)
    changed = await asyncio.to_thread(write_manifests, settings)
    for path in changed:
        say(f"wrote {path}")
    await asyncio.to_thread(
        write_kubelet_config,
        settings,
        cluster_kubelet_configuration(settings),
        control_plane=True,
    )


async def _apply_addons(client: ApiClient, settings: NodeSettings) -> bool:
    """Deploy kube-proxy and cluster DNS, which need root; False when not deployed."""
    if os.geteuid() != 0:
        say(
            "not root: pods share the host network; kube-proxy and cluster DNS need root "
            "and are not deployed"
        )
        return False
    await addons.apply(
        client,
        addons.kube_proxy(
            settings.server,
            mode="iptables",
            cluster_cidr=settings.cluster_cidr,
            service_cidr=settings.service_cidr,
        ),
    )
    await addons.apply(
        client, addons.cluster_dns(cluster_dns_ip(settings.service_cidr), settings.cluster_domain)
    )
    say("deployed kube-proxy (DaemonSet) and cluster DNS (Deployment coredns)")
    return True


async def _new_join_command(client: ApiClient) -> str:
    """A fresh bootstrap token, and the ``pynetes join`` command that uses it."""
    token = generate_token()
    secret = token_secret(token, now=datetime.now(UTC))
    await client.create(SECRETS, secret, namespace=secret["metadata"]["namespace"])
    return join_command(client, token)


def _ports(settings: NodeSettings) -> dict[str, tuple[str, int]]:
    """What this node's processes listen on, by the flag that changes it."""
    ports = {
        "--api-port": (settings.api_bind_address, settings.api_port),
        "--scheduler-port": ("127.0.0.1", settings.scheduler_port),
        "--controller-manager-port": ("127.0.0.1", settings.controller_manager_port),
        "--kubelet-port": (settings.node_ip, settings.kubelet_port),
        "--kubelet-healthz-port": ("127.0.0.1", settings.kubelet_healthz_port),
    }
    if settings.manages_etcd:
        ports["etcd client port"] = ("127.0.0.1", settings.etcd_client_port)
        ports["etcd peer port"] = ("127.0.0.1", settings.etcd_peer_port)
    return ports


def _how_to_use(settings: NodeSettings, elapsed: float, *, single_node: bool) -> str:
    kubeconfig = settings.layout.admin_kubeconfig
    what = "the cluster is up" if single_node else "the control plane is up"
    return (
        f"{what} ({elapsed:.1f} s): node {settings.node_name} is Ready.\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        "  kubectl get pods -n kube-system\n"
        f"The control plane runs as static pods from {settings.layout.manifests}; "
        f"logs of the kubelet in {settings.layout.logs}.\n"
        "Ctrl-C stops it; `pynetes up` on the same data directory brings it back."
    )
