"""``pynetes apiserver``: kube-apiserver's command line, with upstream's flag names."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

import uvloop

from pynetes.apiserver.app import ServerOptions, service_ranges, start
from pynetes.apiserver.auth.serviceaccount import DEFAULT_ISSUER
from pynetes.cli.flags import add_bool_flag

log = logging.getLogger("pynetes.apiserver")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, required=True, help="where state and PKI live")
    parser.add_argument("--secure-port", type=int, default=6443)
    parser.add_argument("--bind-address", default="127.0.0.1")
    parser.add_argument("--storage", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument(
        "--etcd-servers", default="", help="comma-separated etcd client URLs (--storage etcd)"
    )
    parser.add_argument("--token-auth-file", type=Path, default=None)
    add_bool_flag(
        parser,
        "--enable-bootstrap-token-auth",
        False,
        "accept bootstrap tokens (Secrets kube-system/bootstrap-token-<id>) as bearer tokens",
    )
    parser.add_argument("--pki-dir", type=Path, default=None, help="default: DATA_DIR/pki")
    parser.add_argument(
        "--kubelet-client-certificate",
        type=Path,
        default=None,
        help="client certificate shown to kubelets (default: one issued from the cluster CA)",
    )
    parser.add_argument("--kubelet-client-key", type=Path, default=None)
    parser.add_argument(
        "--kubelet-certificate-authority",
        type=Path,
        default=None,
        help="verify kubelets' serving certificates against this CA (default: not verified)",
    )
    parser.add_argument(
        "--service-cluster-ip-range",
        default="10.96.0.0/12",
        help="the CIDR Services' cluster IPs are allocated from",
    )
    parser.add_argument(
        "--service-node-port-range",
        default="30000-32767",
        help="the ports Services' nodePorts are allocated from (both ends included)",
    )
    parser.add_argument(
        "--service-account-issuer",
        default=DEFAULT_ISSUER,
        help="the iss of the service account tokens issued and accepted",
    )
    parser.add_argument(
        "--api-audiences",
        default="",
        help="comma-separated audiences a token must name (default: the issuer)",
    )
    parser.add_argument(
        "--advertise-address",
        default=None,
        help="the address the kubernetes Service's endpoints name (default: --bind-address,"
        " or 127.0.0.1 when it is 0.0.0.0 or ::)",
    )
    parser.add_argument(
        "--scheduler-health-url",
        default=ServerOptions.scheduler_health_url,
        help="where ComponentStatus probes the scheduler",
    )
    parser.add_argument(
        "--controller-manager-health-url",
        default=ServerOptions.controller_manager_health_url,
        help="where ComponentStatus probes the controller manager",
    )


def options_from(arguments: argparse.Namespace) -> ServerOptions:
    return ServerOptions(
        data_dir=arguments.data_dir,
        secure_port=arguments.secure_port,
        bind_address=arguments.bind_address,
        storage=arguments.storage,
        etcd_servers=[url for url in arguments.etcd_servers.split(",") if url],
        token_auth_file=arguments.token_auth_file,
        enable_bootstrap_token_auth=arguments.enable_bootstrap_token_auth,
        pki_dir=arguments.pki_dir,
        kubelet_client_certificate=arguments.kubelet_client_certificate,
        kubelet_client_key=arguments.kubelet_client_key,
        kubelet_certificate_authority=arguments.kubelet_certificate_authority,
        service_cluster_ip_range=arguments.service_cluster_ip_range,
        service_node_port_range=arguments.service_node_port_range,
        advertise_address=arguments.advertise_address,
        service_account_issuer=arguments.service_account_issuer,
        api_audiences=[audience for audience in arguments.api_audiences.split(",") if audience],
        scheduler_health_url=arguments.scheduler_health_url,
        controller_manager_health_url=arguments.controller_manager_health_url,
    )


def run(arguments: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 2 for flags that do not parse."""
    options = options_from(arguments)
    try:
        service_ranges(options)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # uvloop: its event loop and TLS transport are compiled; asyncio's TLS is Python
    # code run for every read and write, and took a fifth of the CPU of a pod create.
    return uvloop.run(_serve(options))


async def _serve(options: ServerOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await start(options)
    # What start-up loaded (schema, registries, caches) lives as long as the
    # process: keep the collector off it, and collect the young less often;
    # full collections over the caches paused requests for up to 300 ms.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    log.info("serving the Kubernetes API on %s", server.url)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
