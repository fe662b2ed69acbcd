"""``pynetes scheduler``: kube-scheduler's command line, and ``pynetes scheduler
explain NAMESPACE/POD`` (:mod:`pynetes.scheduler.explain`).

Serves ``/healthz``, ``/metrics`` and ``/explain/NAMESPACE/POD`` (the pod's
latest decision as JSON, 404 if none is remembered) over plain HTTP on
``--bind-address`` (127.0.0.1) and ``--port`` (10251, upstream's old
insecure port; 0 turns it off). Upstream serves them over HTTPS on 10259; pynetes does not yet.
With leader election (``--leader-elect``, or the config's
``leaderElection.leaderElect`` when the flag is not given) only the holder
of the Lease (kube-system/kube-scheduler unless configured) schedules.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import signal
from pathlib import Path

from aiohttp import web

from pynetes.cli.flags import add_bool_flag
from pynetes.cli.serving import run_while_leading, serve_http
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.scheduler import config as scheduler_config
from pynetes.scheduler import decisions, explain
from pynetes.scheduler.scheduler import Scheduler

log = logging.getLogger("pynetes.scheduler")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None)
    parser.add_argument("--config", type=Path, default=None, help="a KubeSchedulerConfiguration")
    add_bool_flag(
        parser,
        "--leader-elect",
        None,
        "take part in leader election (default: the config's leaderElection.leaderElect)",
    )
    parser.add_argument("--bind-address", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=10251, help="HTTP /healthz, /metrics and /explain"
    )
    actions = parser.add_subparsers(dest="scheduler_action", metavar="ACTION")
    explain.add_arguments(
        actions.add_parser("explain", help="show why a recently scheduled pod went where it went")
    )


def run(arguments: argparse.Namespace) -> int:
    """Schedule until SIGINT or SIGTERM (1 for an invalid configuration), or explain."""
    if arguments.scheduler_action == "explain":
        return explain.run(arguments)
    try:
        config = (
            scheduler_config.load(arguments.config)
            if arguments.config is not None
            else scheduler_config.SchedulerConfiguration()
        )
    except scheduler_config.ConfigError as error:
        log.error("invalid configuration: %s", error)
        return 1
    if arguments.leader_elect is not None:
        config.leader_election.leader_elect = arguments.leader_elect
    elif arguments.config is None:
        config.leader_election.leader_elect = False
    try:
        return asyncio.run(_serve(arguments, config))
    except scheduler_config.ConfigError as error:
        log.error("invalid configuration: %s", error)
        return 1


async def _serve(
    arguments: argparse.Namespace, config: scheduler_config.SchedulerConfiguration
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client_config = dataclasses.replace(
        load_config(arguments.kubeconfig), qps=config.qps, burst=config.burst
    )
    async with ApiClient(client_config) as client:
        scheduler = Scheduler(client, config)
        runner = await _serve_http(scheduler, arguments.bind_address, arguments.port)
        work = asyncio.create_task(_lead_or_run(client, scheduler, config))
        freezer = asyncio.create_task(_freeze_when_synced(scheduler))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, stopped, freezer):
            task.cancel()
        await asyncio.gather(work, stopped, freezer, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
    return 0


async def _freeze_when_synced(scheduler: Scheduler) -> None:
    """Keep the garbage collector off the synced caches, and collect the young
    less often: at 5,000 nodes, collections over the cached Nodes and Pods
    took a fifth of the scheduler's CPU (as the API server does at start-up)."""
    gc.set_threshold(20_000, 20, 20)
    await scheduler.synced.wait()
    gc.freeze()


async def _lead_or_run(
    client: ApiClient, scheduler: Scheduler, config: scheduler_config.SchedulerConfiguration
) -> None:
    election = config.leader_election
    if not election.leader_elect:
        await scheduler.run()
        return
    await run_while_leading(
        client,
        "default-scheduler",
        (election.resource_namespace, election.resource_name),
        scheduler.run,
        (election.lease_duration, election.renew_deadline, election.retry_period),
    )


async def _serve_http(scheduler: Scheduler, host: str, port: int) -> web.AppRunner | None:
    async def explanation(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        decision = scheduler.decisions.get(namespace, name)
        if decision is None:
            message = (
                f"no scheduling decision about {namespace}/{name} is remembered "
                "(not seen by this scheduler, not its leader, or too long ago)"
            )
            return web.json_response({"message": message}, status=404)
        age = scheduler.decisions.age(decision)
        return web.json_response(decisions.to_json(decision, age))

    extra = {"/explain/{namespace}/{name}": explanation}
    return await serve_http(scheduler.metrics.registry, host, port, extra)
