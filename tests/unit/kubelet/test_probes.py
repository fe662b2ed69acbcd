"""Each probe kind against real processes and real servers on 127.0.0.1, with upstream's texts."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pynetes.kubelet.prober.prober import ProbeKind, Prober
from pynetes.kubelet.prober.results import ProbeOutcome, ProbeResult
from pynetes.pki.certificates import issue_serving_certificate, new_certificate_authority
from tests.unit.kubelet.conftest import ExecRuntime, HealthServer, free_port

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}, "spec": {}}

SUCCESS, FAILURE, WARNING = ProbeResult.SUCCESS, ProbeResult.FAILURE, ProbeResult.WARNING


@pytest.fixture
async def prober(runtime: ExecRuntime) -> AsyncIterator[Prober]:
    prober = Prober(runtime)
    yield prober
    await prober.close()


async def run(prober: Prober, spec: dict, container: dict | None = None) -> ProbeOutcome:
    container = container or {"name": "app"}
    return await prober.run({"timeoutSeconds": 1, **spec}, POD, container, "c1", "127.0.0.1")


# -- exec ----------------------------------------------------------------------


async def test_exec_probe_succeeds_on_exit_0_with_the_commands_output(prober: Prober) -> None:
    outcome = await run(prober, {"exec": {"command": ["sh", "-c", "echo fine"]}})
    assert outcome == ProbeOutcome(SUCCESS, "fine\n")


async def test_exec_probe_fails_on_a_nonzero_exit_with_stdout_then_stderr(prober: Prober) -> None:
    command = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert await run(prober, {"exec": {"command": command}}) == ProbeOutcome(FAILURE, "out\nerr\n")


async def test_exec_probe_that_outlives_its_timeout_fails(prober: Prober) -> None:
    outcome = await run(prober, {"exec": {"command": ["sh", "-c", "sleep 5"]}})
    assert outcome == ProbeOutcome(FAILURE, 'command "sh -c sleep 5" timed out')


async def test_exec_probe_command_sees_the_containers_static_env(
    prober: Prober, runtime: ExecRuntime
) -> None:
    container = {"name": "app", "env": [{"name": "FILE", "value": "/etc/hostname"}]}
    outcome = await run(prober, {"exec": {"command": ["test", "-e", "$(FILE)"]}}, container)
    assert outcome.result is SUCCESS
    assert runtime.commands == [("c1", ["test", "-e", "/etc/hostname"])]


# -- httpGet -------------------------------------------------------------------


async def test_http_probe_succeeds_on_200(prober: Prober, health_server: HealthServer) -> None:
    outcome = await run(prober, {"httpGet": {"path": "/healthz", "port": health_server.port}})
    assert outcome == ProbeOutcome(SUCCESS, "status 200")


async def test_http_probe_fails_on_500_without_the_body(
    prober: Prober, health_server: HealthServer
) -> None:
    health_server.status = 500
    outcome = await run(prober, {"httpGet": {"path": "/healthz", "port": health_server.port}})
    assert outcome == ProbeOutcome(FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_probe_counts_399_as_success_with_a_warning(
    prober: Prober, health_server: HealthServer
) -> None:
    health_server.status = 399
    outcome = await run(prober, {"httpGet": {"path": "/healthz", "port": health_server.port}})
    assert outcome.result is WARNING


async def test_http_probe_of_a_closed_port_fails_as_go_says(prober: Prober) -> None:
    port = free_port()
    outcome = await run(prober, {"httpGet": {"path": "/healthz", "port": port}})
    assert outcome == ProbeOutcome(
        FAILURE,
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: '
        "connection refused",
    )


async def test_http_probe_that_gets_no_answer_in_time_fails(
    prober: Prober, health_server: HealthServer
) -> None:
    outcome = await run(prober, {"httpGet": {"path": "/slow", "port": health_server.port}})
    assert outcome == ProbeOutcome(
        FAILURE,
        f'Get "http://127.0.0.1:{health_server.port}/slow": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)",
    )


async def test_http_probe_port_by_name_sends_the_headers_asked_for(
    prober: Prober, health_server: HealthServer
) -> None:
    container = {"name": "app", "ports": [{"name": "http", "containerPort": health_server.port}]}
    action = {
        "path": "/healthz",
        "port": "http",
        "httpHeaders": [{"name": "X-Probe", "value": "1"}],
    }
    outcome = await run(prober, {"httpGet": action}, container)
    assert outcome.result is SUCCESS
    headers = health_server.hits[0].headers
    assert headers["X-Probe"] == "1"
    assert headers["User-Agent"] == "kube-probe/1.31"
    assert headers["Accept"] == "*/*"


async def test_http_probe_follows_a_redirect_on_the_same_host(
    prober: Prober, health_server: HealthServer
) -> None:
    health_server.status = 500
    outcome = await run(prober, {"httpGet": {"path": "/redirect-here", "port": health_server.port}})
    assert outcome == ProbeOutcome(FAILURE, "HTTP probe failed with statuscode: 500")
    assert len(health_server.hits) == 1


async def test_http_probe_gives_up_after_ten_redirects(
    prober: Prober, health_server: HealthServer
) -> None:
    outcome = await run(prober, {"httpGet": {"path": "/loop", "port": health_server.port}})
    assert outcome == ProbeOutcome(
        FAILURE, f'Get "http://127.0.0.1:{health_server.port}/loop": stopped after 10 redirects'
    )
    assert len(health_server.hits) == 10


async def test_http_probe_stops_at_a_redirect_to_another_host_with_a_warning(
    runtime: ExecRuntime, health_server: HealthServer
) -> None:
    events: list[tuple[dict, str, str, str]] = []
    prober = Prober(runtime, recorder=lambda *event: events.append(event))
    container = {
        "name": "app",
        "readinessProbe": {"httpGet": {"path": "/redirect-away", "port": health_server.port}},
    }
    try:
        result = await prober.probe(ProbeKind.READINESS, POD, container, "c1", "127.0.0.1")
    finally:
        await prober.close()
    assert result is SUCCESS
    assert health_server.hits == []
    [(reference, event_type, reason, message)] = events
    assert (event_type, reason) == ("Warning", "ProbeWarning")
    assert message.startswith("Readiness probe warning: Probe terminated redirects")
    assert reference["fieldPath"] == "spec.containers{app}"


async def test_https_probe_does_not_verify_the_servers_certificate(
    prober: Prober, tmp_path: Path
) -> None:
    pair = issue_serving_certificate(
        new_certificate_authority(), dns_names=[], ips=[ipaddress.ip_address("127.0.0.1")]
    )
    (tmp_path / "cert.pem").write_bytes(pair.certificate_pem())
    (tmp_path / "key.pem").write_bytes(pair.key_pem())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="tls")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        action = {"path": "/healthz", "port": port, "scheme": "HTTPS"}
        assert await run(prober, {"httpGet": action}) == ProbeOutcome(SUCCESS, "tls")
    finally:
        await runner.cleanup()


# -- tcpSocket -----------------------------------------------------------------


async def test_tcp_probe_succeeds_when_the_port_accepts(
    prober: Prober, health_server: HealthServer
) -> None:
    assert await run(prober, {"tcpSocket": {"port": health_server.port}}) == ProbeOutcome(SUCCESS)


async def test_tcp_probe_of_a_closed_port_fails(prober: Prober) -> None:
    port = free_port()
    outcome = await run(prober, {"tcpSocket": {"port": port}})
    assert outcome == ProbeOutcome(
        FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_tcp_probe_that_cannot_connect_in_time_fails(prober: Prober) -> None:
    # A listener whose backlog is full drops further SYNs: the connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        outcome = await run(prober, {"tcpSocket": {"port": port}})
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert outcome == ProbeOutcome(FAILURE, f"dial tcp 127.0.0.1:{port}: i/o timeout")


# -- grpc ----------------------------------------------------------------------


class SlowHealth(health.aio.HealthServicer):
    """A health service that never answers in time."""

    async def Check(self, request: object, context: object) -> object:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")


@pytest.fixture
async def grpc_health() -> AsyncIterator[tuple[int, health.aio.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, servicer
    await server.stop(None)


async def test_grpc_probe_succeeds_when_the_service_is_serving(
    prober: Prober, grpc_health: tuple[int, health.aio.HealthServicer]
) -> None:
    port, servicer = grpc_health
    await servicer.set("db", health_pb2.HealthCheckResponse.SERVING)
    outcome = await run(prober, {"grpc": {"port": port, "service": "db"}})
    assert outcome == ProbeOutcome(SUCCESS, "service healthy")


async def test_grpc_probe_fails_when_the_service_is_not_serving(
    prober: Prober, grpc_health: tuple[int, health.aio.HealthServicer]
) -> None:
    port, servicer = grpc_health
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    outcome = await run(prober, {"grpc": {"port": port}})
    assert outcome == ProbeOutcome(FAILURE, 'service unhealthy (responded with "NOT_SERVING")')


async def test_grpc_probe_of_a_server_without_the_health_service_fails(prober: Prober) -> None:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        outcome = await run(prober, {"grpc": {"port": port}})
    finally:
        await server.stop(None)
    assert outcome.result is FAILURE
    assert outcome.output.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"
    )


async def test_grpc_probe_whose_check_takes_too_long_fails(prober: Prober) -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(SlowHealth(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        outcome = await run(prober, {"grpc": {"port": port}})
    finally:
        await server.stop(None)
    assert outcome == ProbeOutcome(FAILURE, "timeout: health rpc did not complete within 1s")


async def test_grpc_probe_of_a_closed_port_times_out_connecting(prober: Prober) -> None:
    port = free_port()
    outcome = await run(prober, {"grpc": {"port": port}})
    assert outcome == ProbeOutcome(
        FAILURE,
        f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: '
        "context deadline exceeded",
    )


# -- failures and errors as Events ----------------------------------------------


async def test_failed_probe_records_unhealthy_on_the_container(
    runtime: ExecRuntime, health_server: HealthServer
) -> None:
    events: list[tuple[dict, str, str, str]] = []
    prober = Prober(runtime, recorder=lambda *event: events.append(event))
    health_server.status = 503
    container = {
        "name": "app",
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": health_server.port}},
    }
    try:
        result = await prober.probe(ProbeKind.LIVENESS, POD, container, "c1", "127.0.0.1")
    finally:
        await prober.close()
    assert result is FAILURE
    [(reference, event_type, reason, message)] = events
    assert (event_type, reason) == ("Warning", "Unhealthy")
    assert message == "Liveness probe failed: HTTP probe failed with statuscode: 503"
    assert reference == {
        "kind": "Pod",
        "namespace": "default",
        "name": "web",
        "uid": "uid-1",
        "apiVersion": "v1",
        "fieldPath": "spec.containers{app}",
    }


async def test_probe_that_cannot_run_has_no_result_and_says_why(runtime: ExecRuntime) -> None:
    events: list[tuple[dict, str, str, str]] = []
    prober = Prober(runtime, recorder=lambda *event: events.append(event))
    container = {"name": "app", "readinessProbe": {"tcpSocket": {"port": "metrics"}}}
    try:
        result = await prober.probe(ProbeKind.READINESS, POD, container, "c1", "127.0.0.1")
    finally:
        await prober.close()
    assert result is None
    assert [(reason, message) for _, _, reason, message in events] == [
        (
            "Unhealthy",
            "Readiness probe errored and resulted in unknown state: "
            'strconv.Atoi: parsing "metrics": invalid syntax',
        )
    ]
