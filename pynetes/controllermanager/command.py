"""``pynetes controller-manager``: kube-controller-manager's command line.

Serves ``/healthz`` and ``/metrics`` (the ``workqueue_*`` families of every
controller's queue) over plain HTTP on ``--bind-address`` (127.0.0.1) and
``--port`` (10252, upstream's old insecure port; 0 turns it off). With
``--leader-elect`` (the default, as upstream) only the holder of the Lease
kube-system/kube-controller-manager runs controllers; when it loses the
Lease the process exits, as upstream's does, for its supervisor to restart.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal

from prometheus_client import CollectorRegistry

from pynetes.cli.serving import run_while_leading, serve_http
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.controllermanager import options as manager_options
from pynetes.controllermanager import registry
from pynetes.controllermanager.manager import ControllerManager

log = logging.getLogger("pynetes.controllermanager")

add_arguments = manager_options.add_arguments


def run(arguments: argparse.Namespace) -> int:
    """Run the controllers until SIGINT or SIGTERM; 1 for an unknown controller name,
    2 when the leader Lease is lost."""
    try:
        descriptors = registry.select(arguments.controllers)
    except registry.SelectionError as error:
        log.error("invalid --controllers: %s", error)
        return 1
    log.info("controllers: %s", ", ".join(d.name for d in descriptors))
    return asyncio.run(_serve(arguments, descriptors))


async def _serve(arguments: argparse.Namespace, descriptors: list) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client_config = dataclasses.replace(
        load_config(arguments.kubeconfig),
        qps=arguments.kube_api_qps,
        burst=arguments.kube_api_burst,
    )
    metrics = CollectorRegistry()
    async with ApiClient(client_config) as client:
        manager = ControllerManager(client, descriptors, arguments, registry=metrics)
        runner = await serve_http(metrics, arguments.bind_address, arguments.port)
        work = asyncio.create_task(_lead_or_run(client, manager, arguments))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        lost = work.done() and not work.cancelled()
        for task in (work, stopped):
            task.cancel()
        await asyncio.gather(work, stopped, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
    return 2 if lost else 0


async def _lead_or_run(
    client: ApiClient, manager: ControllerManager, arguments: argparse.Namespace
) -> None:
    if not arguments.leader_elect:
        await manager.run()
        return
    await run_while_leading(
        client,
        "kube-controller-manager",
        (arguments.leader_elect_resource_namespace, arguments.leader_elect_resource_name),
        manager.run,
        (
            arguments.leader_elect_lease_duration,
            arguments.leader_elect_renew_deadline,
            arguments.leader_elect_retry_period,
        ),
    )
