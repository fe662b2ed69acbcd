"""``pynetes dns`` as a process: it starts, answers, serves /health, /ready and
/metrics under CoreDNS's names, and exits on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import aiohttp
import dns.rcode
from prometheus_client.parser import text_string_to_metric_families

from pynetes.api.resources import built_in
from tests.integration.components import GUARD, environment, pynetes
from tests.integration.conftest import Cluster, free_port
from tests.integration.controllers.harness import eventually
from tests.integration.dns.conftest import Dns

SERVICES = built_in("", "v1", "services")


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_the_process_answers_reports_health_and_metrics_and_stops_on_sigterm(
    cluster: Cluster, api, tmp_path: Path
):
    await api.create(
        SERVICES,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.50", "ports": [{"name": "http", "port": 80}]},
        },
    )
    port, health, metrics = free_port(), free_port(), free_port()
    log_path = tmp_path / "dns.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *pynetes("dns", "--kubeconfig", str(cluster.kubeconfig)),
            *("--listen", f"127.0.0.1:{port}", "--health-port", str(health)),
            *("--metrics-port", str(metrics)),
            stdout=log,
            stderr=log,
            env=environment(),
        )
    try:

        async def ready():
            with contextlib.suppress(aiohttp.ClientError):
                return await get(health, "/ready") == (200, "OK")
            return False

        await eventually(ready)
        assert await get(health, "/health") == (200, "OK")
        server = Dns(port)
        resolved = await server.resolver().resolve("web.default.svc.cluster.local.", "A")
        assert [rdata.to_text() for rdata in resolved] == ["10.96.0.50"]
        missing = await server.query("nothing.default.svc.cluster.local.", tcp=True)
        assert missing.rcode() == dns.rcode.NXDOMAIN

        _, text = await get(metrics, "/metrics")
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        server_label = ("server", f"dns://127.0.0.1:{port}")
        common = (server_label, ("view", ""), ("zone", "."))
        udp_a = (("family", "1"), ("proto", "udp"), *common, ("type", "A"))
        assert samples[("coredns_dns_requests_total", tuple(sorted(udp_a)))] == 1
        nxdomain = (("plugin", "kubernetes"), ("rcode", "NXDOMAIN"), *common)
        assert samples[("coredns_dns_responses_total", tuple(sorted(nxdomain)))] == 1
        count = (
            "coredns_dns_request_duration_seconds_count",
            tuple(sorted((*common, ("type", "A")))),
        )
        assert samples[count] == 2
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(GUARD):
            code = await process.wait()
    assert code == 0, log_path.read_text()
