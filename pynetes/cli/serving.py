"""What every control-plane component's command shares: its HTTP health and metrics
endpoints, and running only while it leads."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pynetes.client.events import EventRecorder
from pynetes.client.leaderelection import LeaderElector
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve_http(
    metrics: CollectorRegistry, host: str, port: int, extra: Mapping[str, Handler] | None = None
) -> web.AppRunner | None:
    """Serve ``/healthz``, ``/metrics`` (``metrics``) and ``extra`` GET routes over plain
    HTTP on ``host:port``; None (nothing served) when ``port`` is 0."""
    if port == 0:
        return None

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def scrape(_request: web.Request) -> web.Response:
        body = generate_latest(metrics)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return await serve_routes(
        host, port, {"/healthz": healthz, "/metrics": scrape, **(extra or {})}
    )


async def serve_routes(host: str, port: int, routes: Mapping[str, Handler]) -> web.AppRunner:
    """Serve the GET ``routes`` over plain HTTP on ``host:port`` (a component's health,
    readiness and metrics endpoints); clean up the returned runner to stop."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("serving %s on http://%s:%d", ", ".join(routes), host, port)
    return runner


async def run_while_leading(
    client: ApiClient,
    component: str,
    lease: tuple[str, str],
    work: Callable[[], Awaitable[None]],
    durations: tuple[float, float, float],
) -> None:
    """Campaign for the Lease ``lease`` (namespace, name) and run ``work`` while holding it.

    ``durations`` are the lease duration, renew deadline and retry period.
    Returns when leadership is lost (the caller exits, as upstream's
    components do, for their supervisor to restart them).
    """
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    log.info("leader election identity %s", identity)
    lease_duration, renew_deadline, retry_period = durations
    async with EventRecorder(client, component) as recorder:
        elector = LeaderElector(
            client,
            lease[0],
            lease[1],
            identity,
            on_started_leading=work,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            recorder=recorder,
        )
        await elector.run()
    log.error("leader election lost")
