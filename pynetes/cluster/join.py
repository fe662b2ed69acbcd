"""``pynetes join``: a worker node joins a cluster the kubeadm way, and stays up.

    pynetes join --server https://10.0.0.1:6443 --token abcdef.0123456789abcdef \\
        --ca-cert-hash sha256:<hex> [--data-dir D] [--node-name N] [--node-ip IP]

1. Discovery (:mod:`pynetes.cluster.discovery`): ``kube-public/cluster-info`` is read
   anonymously and trusted only when the bootstrapsigner's signature verifies with the
   token and the CA's public key matches ``--ca-cert-hash``; it names the API server
   and the cluster CA. Retried until ``--discovery-timeout``: a token made a moment
   ago is signed within seconds.
2. TLS bootstrap: a bootstrap kubeconfig with the token, and the cluster's shared
   KubeletConfiguration (``kube-system/kubelet-config``) under this node's own
   addresses and folders; the kubelet, started with ``--bootstrap-kubeconfig``, asks
   for its client certificate (a CSR the controller manager approves and signs) and
   registers the node.
3. It stays in the foreground until Ctrl-C or SIGTERM, then stops the kubelet and the
   node's pods. kube-proxy and the other DaemonSets come to the node by themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pynetes.client import errors
from pynetes.client.config import ConfigError, load_kubeconfig
from pynetes.client.rest import ApiClient
from pynetes.cluster import published, readiness
from pynetes.cluster.controlplane import NodeSettings
from pynetes.cluster.discovery import DiscoveryError, DiscoveryRefused, discover
from pynetes.cluster.host import (
    StartError,
    check_node_tools,
    check_ports_free,
    stop_on_signals,
    stop_pods,
)
from pynetes.cluster.layout import ClusterLayout, DataFolderError
from pynetes.cluster.node import kubelet_arguments, write_kubelet_config
from pynetes.cluster.output import say
from pynetes.cluster.processes import Child, start_child, stop_children
from pynetes.cluster.supervise import become_supervisor
from pynetes.pki.certificates import write_atomically
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig

READY_TIMEOUT = 120.0
DISCOVERY_RETRY = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, help="the API server (https://HOST:PORT)")
    parser.add_argument("--token", required=True, help="a bootstrap token (pynetes token create)")
    parser.add_argument(
        "--ca-cert-hash",
        action="append",
        default=[],
        help="sha256:<hex> of the cluster CA's public key (may be repeated)",
    )
    parser.add_argument(
        "--discovery-token-unsafe-skip-ca-verification",
        action="store_true",
        help="trust the cluster-info CA without --ca-cert-hash (kubeadm's flag; unsafe)",
    )
    parser.add_argument("--discovery-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--data-dir", type=Path, default=Path.home() / ".pynetes")
    parser.add_argument("--node-name", default=socket.gethostname().lower())
    parser.add_argument(
        "--node-ip", help="this node's address (default: the one that reaches the server)"
    )
    parser.add_argument(
        "--cni-bin-dir", type=Path, default=Path("/usr/lib/cni"), help="the CNI plugins"
    )
    parser.add_argument("--kubelet-port", type=int, default=10250)
    parser.add_argument("--kubelet-healthz-port", type=int, default=10248)


def run(arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(_join(arguments))
    except (StartError, DataFolderError, DiscoveryError) as error:
        say(f"error: {error}")
        return 1


async def _join(arguments: argparse.Namespace) -> int:
    settings = NodeSettings(
        layout=ClusterLayout(arguments.data_dir.expanduser().resolve()),
        node_name=arguments.node_name,
        node_ip=arguments.node_ip or _address_towards(arguments.server),
        kubelet_port=arguments.kubelet_port,
        kubelet_healthz_port=arguments.kubelet_healthz_port,
        cni_bin_dir=arguments.cni_bin_dir,
    )
    layout = settings.layout
    stop = stop_on_signals()
    await asyncio.to_thread(layout.claim)
    check_ports_free(
        {
            "--kubelet-port": (settings.node_ip, settings.kubelet_port),
            "--kubelet-healthz-port": ("127.0.0.1", settings.kubelet_healthz_port),
        }
    )
    check_node_tools(settings.cni_bin_dir)
    ca_pem, server = await _discover(arguments, stop)
    say(f"found the cluster at {server}; its CA matches --ca-cert-hash")
    bootstrap = await _prepare(settings, server, ca_pem, arguments.token)
    children: list[Child] = []
    try:
        say("starting the kubelet; it asks the cluster for its client certificate")
        started = datetime.now(UTC)
        children.append(
            await start_child(
                layout.logs, "kubelet", kubelet_arguments(settings, bootstrap_kubeconfig=bootstrap)
            )
        )
        if not await _node_ready(settings, children, stop, started):
            return 1
        say(
            f"node {settings.node_name} has joined the cluster and is Ready: "
            "`kubectl get nodes` on the control plane shows it. Ctrl-C stops it."
        )
        become_supervisor(layout.root, children[0].process.pid, None)
    finally:
        if children:
            await stop_children(children)
            await stop_pods(layout)
            say("stopped")


async def _discover(arguments: argparse.Namespace, stop: asyncio.Event) -> tuple[bytes, str]:
    """Discovery, retried (each new reason said once) until it succeeds or time is up;
    a refusal that retrying cannot change (a wrong pin or token) ends it at once."""
    deadline = time.monotonic() + arguments.discovery_timeout
    said = ""
    while True:
        try:
            return await discover(
                arguments.server,
                arguments.token,
                arguments.ca_cert_hash,
                unsafe_skip_ca_verification=arguments.discovery_token_unsafe_skip_ca_verification,
            )
        except DiscoveryRefused:
            raise
        except DiscoveryError as error:
            if time.monotonic() >= deadline or stop.is_set():
                raise
            if str(error) != said:
                said = str(error)
                say(f"discovery: {said}; retrying")
        await asyncio.sleep(DISCOVERY_RETRY)


async def _prepare(settings: NodeSettings, server: str, ca_pem: bytes, token: str) -> Path:
    """The cluster CA, the bootstrap kubeconfig and the kubelet's configuration; the
    bootstrap kubeconfig's path."""
    bootstrap = await asyncio.to_thread(
        _write_bootstrap_files, settings.layout, server, ca_pem, token
    )
    async with ApiClient(load_kubeconfig(bootstrap)) as client:
        try:
            cluster_part = await published.read_kubelet_config(client)
        except (errors.ApiError, errors.TransportError, ValueError) as error:
            raise StartError(f"reading the cluster's kubelet configuration: {error}") from None
    await asyncio.to_thread(write_kubelet_config, settings, cluster_part, control_plane=False)
    return bootstrap


def _write_bootstrap_files(layout: ClusterLayout, server: str, ca_pem: bytes, token: str) -> Path:
    layout.pki.mkdir(parents=True, exist_ok=True)
    write_atomically(layout.pki / "ca.crt", ca_pem, mode=0o644)
    bootstrap = layout.kubeconfig_of("bootstrap-kubelet")
    write_kubeconfig(
        bootstrap,
        kubeconfig(server=server, ca_pem=ca_pem, user="tls-bootstrap-token-user", token=token),
    )
    return bootstrap


async def _node_ready(
    settings: NodeSettings, children: list[Child], stop: asyncio.Event, started: datetime
) -> bool:
    """Wait for the kubelet's own kubeconfig (TLS bootstrap done), then the Node Ready as
    this kubelet, started at ``started``, reports it (a node joining again has a Node
    still Ready from its kubelet before)."""
    kubelet_conf = settings.layout.kubeconfig_of("kubelet")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    while not kubelet_conf.exists():
        if stop.is_set() or any(child.exited for child in children) or loop.time() > deadline:
            for child in children:
                if child.exited:
                    say(f"the kubelet exited; its log, {child.log_path}:\n{child.last_words()}")
            return False
        await asyncio.sleep(readiness.POLL)
    try:
        config = load_kubeconfig(kubelet_conf)
    except ConfigError as error:
        say(f"the kubelet wrote an unusable {kubelet_conf}: {error}")
        return False
    async with ApiClient(config) as client:
        watch = readiness.Watch(client, children, stop, say=say, patience=READY_TIMEOUT)
        return await watch.node_ready(settings.node_name, reported_since=started)


def _address_towards(server: str) -> str:
    """The local address the kernel picks to reach ``server`` (a UDP connect sends
    nothing), the node's address as the kubelet would pick it."""
    host = urlsplit(server).hostname or "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 9))
        return str(probe.getsockname()[0])
