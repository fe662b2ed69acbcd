"""``pynetes hollow-nodes``: run N hollow nodes against a cluster until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import time
from pathlib import Path

from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.hollow.runner import LEASE_PERIOD, HollowNodes
from pynetes.hollow.spec import NodeSpec, generate_node_specs, parse_labels, parse_taints

log = logging.getLogger("pynetes.hollow")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default: KUBECONFIG")
    parser.add_argument("--count", type=int, required=True, help="how many nodes")
    parser.add_argument("--name-prefix", default="hollow-")
    parser.add_argument("--cpu", default="4")
    parser.add_argument("--memory", default="16Gi")
    parser.add_argument("--pods", default="110")
    parser.add_argument("--ephemeral-storage", default="100Gi")
    parser.add_argument("--zones", default="", help="a,b,c: assigned round robin")
    parser.add_argument("--labels", default="", help="k=v,...: on every node")
    parser.add_argument("--taints", default="", help="key=value:Effect,...: on every node")
    parser.add_argument("--unschedulable", action="store_true")
    parser.add_argument(
        "--kube-api-qps", type=float, default=0.0, help="client rate limit (0: none)"
    )
    parser.add_argument("--kube-api-burst", type=int, default=1000)
    parser.add_argument("--lease-period", type=float, default=LEASE_PERIOD, help=argparse.SUPPRESS)


def run(arguments: argparse.Namespace) -> int:
    try:
        specs = generate_node_specs(
            arguments.count,
            name_prefix=arguments.name_prefix,
            zones=[zone for zone in arguments.zones.split(",") if zone],
            cpu=arguments.cpu,
            memory=arguments.memory,
            pods=arguments.pods,
            ephemeral_storage=arguments.ephemeral_storage,
            labels=parse_labels(arguments.labels),
            taints=parse_taints(arguments.taints),
            unschedulable=arguments.unschedulable,
        )
    except ValueError as error:
        log.error("%s", error)
        return 2
    config = dataclasses.replace(
        load_config(arguments.kubeconfig),
        qps=arguments.kube_api_qps,
        burst=arguments.kube_api_burst,
    )
    return asyncio.run(_serve(ApiClient(config), specs, arguments.lease_period))


async def _serve(client: ApiClient, specs: list[NodeSpec], lease_period: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    began = time.perf_counter()
    async with client, HollowNodes(client, specs, lease_period=lease_period) as nodes:
        ready = asyncio.ensure_future(nodes.ready())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            log.info(
                "%d hollow nodes registered in %.2f s", len(specs), time.perf_counter() - began
            )
            await stopped
        ready.cancel()
    log.info("stopped")
    return 0
