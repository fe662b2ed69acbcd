"""postStart and preStop hooks: real commands and real HTTP requests, with upstream's texts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pynetes.kubelet.lifecycle import run_post_start, run_pre_stop
from tests.unit.kubelet.conftest import ExecRuntime, HealthServer, free_port

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}, "spec": {}}


def container(**lifecycle: dict) -> dict:
    return {"name": "app", "lifecycle": lifecycle}


async def test_exec_post_start_hook_runs_in_the_container(
    runtime: ExecRuntime, tmp_path: Path
) -> None:
    marker = tmp_path / "hooked"
    hook = {"exec": {"command": ["touch", str(marker)]}}
    assert await run_post_start(runtime, POD, container(postStart=hook), "c1", "") is None
    assert marker.exists()
    assert runtime.commands == [("c1", ["touch", str(marker)])]


async def test_failing_exec_hook_says_what_failed_as_upstream(runtime: ExecRuntime) -> None:
    hook = {"exec": {"command": ["sh", "-c", "echo out; echo oops >&2; exit 3"]}}
    message = await run_post_start(runtime, POD, container(postStart=hook), "c1", "")
    assert message == (
        'Exec lifecycle hook ([sh -c echo out; echo oops >&2; exit 3]) for Container "app" in '
        'Pod "web_default(uid-1)" failed - error: command \'sh -c echo out; echo oops >&2; '
        'exit 3\' exited with 3: oops\n, message: "out\\noops\\n"'
    )


async def test_http_hook_succeeds_whatever_the_status(
    runtime: ExecRuntime, health_server: HealthServer
) -> None:
    # Upstream looks only for a response, not at its status.
    health_server.status = 500
    hook = {"httpGet": {"path": "/healthz", "port": health_server.port}}
    assert await run_post_start(runtime, POD, container(postStart=hook), "c1", "127.0.0.1") is None
    [request] = health_server.hits
    assert request.headers["User-Agent"] == "kube-lifecycle/1.31"


async def test_http_hook_without_a_server_fails(runtime: ExecRuntime) -> None:
    port = free_port()
    hook = {"httpGet": {"path": "/stop", "port": port}}
    message = await run_pre_stop(runtime, POD, container(preStop=hook), "c1", "127.0.0.1", 5)
    assert message == (
        'HTTP lifecycle hook (/stop) for Container "app" in Pod "web_default(uid-1)" failed - '
        f'error: Get "http://127.0.0.1:{port}/stop": dial tcp 127.0.0.1:{port}: connect: '
        "connection refused"
    )


async def test_https_hook_answered_in_plain_http_is_retried_over_http(
    runtime: ExecRuntime, health_server: HealthServer
) -> None:
    events: list[tuple[dict, str, str, str]] = []
    hook = {"httpGet": {"path": "/healthz", "port": health_server.port, "scheme": "HTTPS"}}
    message = await run_post_start(
        runtime,
        POD,
        container(postStart=hook),
        "c1",
        "127.0.0.1",
        recorder=lambda *event: events.append(event),
    )
    assert message is None
    assert len(health_server.hits) == 1
    [(reference, event_type, reason, text)] = events
    assert (reference["kind"], event_type, reason) == ("Pod", "Warning", "LifecycleHTTPFallback")
    assert text == (
        f"request to HTTPS lifecycle hook 127.0.0.1:{health_server.port} got HTTP response, "
        "retry with HTTP succeeded"
    )


async def test_pre_stop_hook_is_stopped_at_its_time_limit(
    runtime: ExecRuntime, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    hook = {"exec": {"command": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"]}}
    assert await run_pre_stop(runtime, POD, container(preStop=hook), "c1", "", 0.5) is None
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_sleep_pre_stop_hook_ends_with_the_grace_period(runtime: ExecRuntime) -> None:
    hook = {"sleep": {"seconds": 30}}
    assert await run_pre_stop(runtime, POD, container(preStop=hook), "c1", "", 0.2) is None


async def test_container_without_hooks_needs_nothing_run(runtime: ExecRuntime) -> None:
    assert await run_post_start(runtime, POD, {"name": "app"}, "c1", "") is None
    assert await run_pre_stop(runtime, POD, {"name": "app"}, "c1", "", 30) is None
    assert runtime.commands == []
