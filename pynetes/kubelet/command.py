"""``pynetes kubelet``: the node agent, with upstream's flags and KubeletConfiguration file.

    pynetes kubelet --kubeconfig K [--bootstrap-kubeconfig B] [--node-name N] [--config F]
                    [--root-dir D] [--runtime process] [--node-ip IP]
                    [--capacity cpu=4,memory=8Gi]

With ``--bootstrap-kubeconfig``, a missing or expired K is first made by TLS
bootstrap (see pynetes.kubelet.bootstrap).

Exit codes: 1 when the configuration is invalid (the message names the field),
0 after SIGTERM or SIGINT. The pods' processes keep running when the kubelet
stops, as with upstream's kubelet and its container runtime: a kubelet started
again on the same ``--root-dir`` adopts them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import socket
import sys
from pathlib import Path

from pynetes.cli.serving import serve_http
from pynetes.client.config import ConfigError as KubeconfigError
from pynetes.client.config import load_config as load_kubeconfig
from pynetes.client.errors import ApiError, TransportError
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import AgentOptions, KubeletAgent
from pynetes.kubelet.bootstrap import BootstrapError, load_client_certificate
from pynetes.kubelet.config import (
    ConfigError,
    KubeletConfiguration,
    load_config,
    parse_capacity,
)
from pynetes.kubelet.runtime.process.cni import CniOptions

log = logging.getLogger(__name__)
DEFAULT_ROOT_DIR = "/var/lib/kubelet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="how to reach the API server")
    parser.add_argument(
        "--bootstrap-kubeconfig",
        help="credentials to request a client certificate with when --kubeconfig is missing"
        " or its certificate expired; --kubeconfig is then written",
    )
    parser.add_argument(
        "--node-name",
        default=socket.gethostname().lower(),
        help="the Node this kubelet registers (default: the host name)",
    )
    parser.add_argument("--config", help="a KubeletConfiguration file (YAML or JSON)")
    parser.add_argument(
        "--root-dir", default=DEFAULT_ROOT_DIR, help="the kubelet's files (volumes, runtime state)"
    )
    parser.add_argument(
        "--runtime",
        choices=["process"],
        default="process",
        help="the container runtime: process (containers are host processes)",
    )
    parser.add_argument(
        "--node-ip", default="127.0.0.1", help="the node's InternalIP (default: loopback)"
    )
    parser.add_argument(
        "--capacity",
        default="",
        help="simulation: resources reported instead of the host's, e.g. cpu=4,memory=8Gi,pods=110",
    )
    parser.add_argument("--port", type=int, help="the kubelet API's port (overrides the config)")
    parser.add_argument(
        "--image-catalog", help="the image catalog file (default: ROOT_DIR/images.yaml)"
    )
    parser.add_argument(
        "--cni-conf-dir",
        help="the CNI network configuration folder (default: ROOT_DIR/cni/net.d)",
    )
    parser.add_argument(
        "--cni-bin-dir", default="/usr/lib/cni", help="the CNI plugins (Debian's folder)"
    )


def run(arguments: argparse.Namespace) -> int:
    try:
        config = load_config(arguments.config)
        if arguments.capacity:
            config = config.with_capacity(parse_capacity(arguments.capacity))
        if arguments.port is not None:
            config = dataclasses.replace(config, port=arguments.port)
    except (ConfigError, OSError) as error:
        print(f"kubelet: invalid configuration: {error}", file=sys.stderr)
        return 1
    return asyncio.run(_serve(arguments, config))


async def _serve(arguments: argparse.Namespace, config: KubeletConfiguration) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if arguments.bootstrap_kubeconfig:
        try:
            await load_client_certificate(
                arguments.kubeconfig,
                arguments.bootstrap_kubeconfig,
                arguments.root_dir,
                arguments.node_name,
            )
        except (BootstrapError, TimeoutError, ApiError, TransportError, KubeconfigError) as error:
            print(f"kubelet: TLS bootstrap failed: {error}", file=sys.stderr)
            return 1
    client_config = dataclasses.replace(
        load_kubeconfig(arguments.kubeconfig), qps=config.kube_api_qps, burst=config.kube_api_burst
    )
    root = Path(arguments.root_dir)
    options = AgentOptions(
        node_name=arguments.node_name,
        root_dir=root,
        node_ip=arguments.node_ip,
        client_ca_file=_write_client_ca(root, client_config.ca_pem),
        image_catalog=Path(arguments.image_catalog) if arguments.image_catalog else None,
        cni=CniOptions(
            conf_dir=Path(arguments.cni_conf_dir or root / "cni" / "net.d"),
            bin_dir=Path(arguments.cni_bin_dir),
        ),
    )
    async with ApiClient(client_config) as client:
        agent = KubeletAgent(client, config, options)
        await agent.start()
        health = await serve_http(
            agent.metrics, agent.config.healthz_bind_address, agent.config.healthz_port
        )
        log.info("kubelet of node %s serving on port %d", options.node_name, agent.port)
        try:
            await stop.wait()
        finally:
            if health is not None:
                await health.cleanup()
            await agent.stop()
    return 0


def _write_client_ca(root: Path, ca_pem: bytes | None) -> Path | None:
    """The kubeconfig's CA signs the API server's kubelet-client certificate: the kubelet
    accepts clients it signed (upstream's ``authentication.x509.clientCAFile``)."""
    if not ca_pem:
        return None
    path = root / "pki" / "client-ca.crt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ca_pem)
    return path
