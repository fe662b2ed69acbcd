"""``kubectl get componentstatuses``: the scheduler, the controller manager and the store,
probed when asked, with upstream's deprecation warning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from kubernetes import client, config

from tests.integration.conftest import Cluster, api_server, free_port


@pytest.fixture
async def healthy_scheduler() -> AsyncIterator[str]:
    """A /healthz answering ``ok``, as ``pynetes scheduler`` serves it."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/healthz"
    finally:
        await runner.cleanup()


@pytest.fixture
async def cluster_with_components(
    tmp_path: Path, healthy_scheduler: str
) -> AsyncIterator[tuple[Cluster, str]]:
    """The scheduler answers; nothing listens where the controller manager should."""
    missing = f"http://127.0.0.1:{free_port()}/healthz"
    async with api_server(
        tmp_path, scheduler_health_url=healthy_scheduler, controller_manager_health_url=missing
    ) as running:
        yield running, missing


async def test_kubectl_get_cs_shows_each_components_health_and_the_warning(
    cluster_with_components: tuple[Cluster, str],
) -> None:
    cluster, missing = cluster_with_components
    kubectl = cluster.kubectl("1.33")
    _, out, err = await kubectl("get", "cs")
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in err
    rows = [line.split(None, 2) for line in out.splitlines()]
    assert rows[0] == ["NAME", "STATUS", "MESSAGE   ERROR"]
    assert [row[:2] for row in rows[1:]] == [
        ["controller-manager", "Unhealthy"],
        ["scheduler", "Healthy"],
        ["storage", "Healthy"],
    ]
    assert missing.removesuffix("/healthz") in rows[1][2]  # the error names what was asked

    _, out, _ = await kubectl("get", "componentstatus", "scheduler", "-o", "jsonpath={.conditions}")
    assert out == '[{"message":"ok","status":"True","type":"Healthy"}]'
    code, _, err = await kubectl("get", "cs", "etcd-9", check=False)
    assert code == 1 and 'componentstatuses "etcd-9" not found' in err
    code, _, err = await kubectl("delete", "cs", "scheduler", check=False)
    assert code == 1
    assert "(MethodNotAllowed): the server does not allow this method" in err


async def test_the_python_client_lists_component_statuses(
    cluster_with_components: tuple[Cluster, str],
) -> None:
    cluster, _ = cluster_with_components
    with config.new_client_from_config(str(cluster.kubeconfig)) as api:
        listed = await asyncio.to_thread(client.CoreV1Api(api).list_component_status)
    health = {item.metadata.name: item.conditions[0].status for item in listed.items}
    assert health == {"controller-manager": "Unknown", "scheduler": "True", "storage": "True"}
