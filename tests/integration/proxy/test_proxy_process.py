"""``python -m pynetes proxy`` as a process against the real API server: it proxies,
serves /healthz and /metrics, exits cleanly on SIGTERM; with root it makes a
non-loopback service range local (a connection to an unused service address is
refused here, never routed away) and ``--cleanup`` removes that route."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.proxy import localroute
from tests.conftest import require
from tests.integration.components import GUARD, ComponentProcess, environment, pynetes, run_cli
from tests.integration.conftest import Cluster, api_server, free_port
from tests.integration.proxy.conftest import (
    Pod,
    ask,
    cluster_ip,
    create_service,
    create_slices,
    eventually,
)

Pods = Callable[[int], Awaitable[list[Pod]]]
#: The service range of the root test (no other test uses it).
SERVICE_RANGE = ipaddress.ip_network("198.19.78.0/24")


@contextlib.asynccontextmanager
async def proxy_process(
    cluster: Cluster, tmp_path: Path, *flags: str
) -> AsyncIterator[tuple[ComponentProcess, int]]:
    """``pynetes proxy`` until the block ends; yields it (metrics port) and its healthz port."""
    metrics, health = free_port(), free_port()
    log_path = tmp_path / "proxy.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *pynetes("proxy", "--kubeconfig", str(cluster.kubeconfig)),
            f"--metrics-bind-address=127.0.0.1:{metrics}",
            f"--healthz-bind-address=127.0.0.1:{health}",
            "--hostname-override=node-1",
            *flags,
            stdout=log_file,
            stderr=log_file,
            env=environment(),
        )
    running = ComponentProcess(process, metrics, log_path)
    try:
        await running.ready()
        yield running, health
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GUARD):
                await process.wait()


async def health(port: int) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def test_proxies_serves_health_and_metrics_and_stops_on_sigterm(
    cluster: Cluster, api: ApiClient, pods: Pods, tmp_path: Path
) -> None:
    backends = await pods(2)
    ip = cluster_ip()
    await create_service(api, "web", ip, 8080)
    await create_slices(api, "web", backends)
    async with proxy_process(cluster, tmp_path, "--min-sync-period=100ms") as (process, port):

        async def answered() -> set[str]:
            with contextlib.suppress(OSError):
                return {await ask(ip, 8080) for _ in range(4)}
            return set()

        assert await eventually(answered) == {pod.name for pod in backends}

        async def healthy() -> dict | None:
            status, body = await health(port)
            return body if status == 200 else None

        body = await eventually(healthy)
        assert body["lastUpdated"] and body["nodeEligible"] is True
        assert await process.get("/proxyMode") == (200, "userspace")
        assert await process.metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds")
        assert await process.metric("kubeproxy_sync_proxy_rules_duration_seconds_count")
        assert await process.metric("kubeproxy_sync_proxy_rules_service_changes_total")
        process.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(GUARD):
            assert await process.process.wait() == 0
    assert "listening on" in process.log()


async def test_invalid_flags_are_refused_naming_them() -> None:
    code, _, err = await run_cli("proxy", "--kubeconfig", "k", "--min-sync-period", "1x")
    assert code == 1 and "--min-sync-period" in err and 'unknown unit "x"' in err
    code, _, err = await run_cli("proxy", "--kubeconfig", "k", "--mode", "ipvs")
    assert code == 2 and "ipvs" in err


@pytest.mark.parametrize("mode", ["userspace", "iptables"])
async def test_a_service_range_is_made_local_and_cleanup_removes_it(
    pods: Pods, tmp_path: Path, mode: str
) -> None:
    require(os.geteuid() == 0, "root (a local route for the service range)")
    if mode == "iptables":
        require(shutil.which("iptables-restore") is not None, "iptables")
    assert not await localroute.has_local_route(SERVICE_RANGE), "a leftover route: remove it"
    range_flag = f"--service-cluster-ip-range={SERVICE_RANGE}"
    async with (
        api_server(tmp_path / "routed", service_cluster_ip_range=str(SERVICE_RANGE)) as cluster,
        ApiClient(dataclasses.replace(load_config(cluster.kubeconfig), qps=0)) as api,
    ):
        await _routed_range(cluster, api, pods, tmp_path, mode, range_flag)


async def _routed_range(
    cluster: Cluster, api: ApiClient, pods: Pods, tmp_path: Path, mode: str, range_flag: str
) -> None:
    try:
        (backend,) = await pods(1)
        service_ip = str(SERVICE_RANGE[10])
        await create_service(api, "routed", service_ip, 8080)
        await create_slices(api, "routed", [backend])
        async with proxy_process(cluster, tmp_path, range_flag, f"--mode={mode}") as (process, _):
            assert await localroute.has_local_route(SERVICE_RANGE)
            assert await process.get("/proxyMode") == (200, mode)

            async def answered() -> str:
                with contextlib.suppress(OSError):
                    return await ask(service_ip, 8080)
                return ""

            assert await eventually(answered) == backend.name
            # the route is there (checked above): this connection cannot leave the machine
            unused = str(SERVICE_RANGE[77])
            try:
                await asyncio.wait_for(asyncio.open_connection(unused, 8080), GUARD)
            except ConnectionRefusedError:
                pass
            else:
                raise AssertionError(f"{unused}:8080 answered")
        assert await localroute.has_local_route(SERVICE_RANGE), "the range stays local"
        code, _, err = await run_cli("proxy", "--cleanup", range_flag)
        assert code == 0, err
        assert not await localroute.has_local_route(SERVICE_RANGE)
    finally:
        await run_cli("proxy", "--cleanup", range_flag)
