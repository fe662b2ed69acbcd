"""What the kubelet's unit tests share: a runtime that execs real processes, servers, polling."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from aiohttp import web

from pynetes.kubelet.runtime.interface import ExecResult


class ExecRuntime:
    """The one RuntimeService method probes and hooks use, ``exec_sync``, on host processes.

    Enough of a runtime for these tests (the process runtime is another module's):
    every container is the host, every command a real process. ``execs`` counts
    the commands that ended, ``commands`` lists them with their container ids.
    """

    def __init__(self) -> None:
        self.execs = 0
        self.commands: list[tuple[str, list[str]]] = []

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float
    ) -> ExecResult:
        self.commands.append((container_id, list(command)))
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit or None)
        except TimeoutError:
            process.kill()
            await process.wait()
            self.execs += 1
            return ExecResult(exit_code=-1, stdout=b"", stderr=b"", timed_out=True)
        finally:
            if process.returncode is None:  # cancelled: leave no process behind
                process.kill()
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
        self.execs += 1
        return ExecResult(exit_code=process.returncode or 0, stdout=stdout, stderr=stderr)


async def until(condition: Callable[[], bool], guard: float = 10.0) -> None:
    """Let the loop (and real processes) run until ``condition`` holds; fail after ``guard`` s."""
    async with asyncio.timeout(guard):
        while not condition():  # noqa: ASYNC110 - real processes change it; no event to wait on
            await asyncio.sleep(0.005)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HealthServer:
    """A real HTTP server on 127.0.0.1 whose /healthz answers ``status`` (settable)."""

    def __init__(self) -> None:
        self.status = 200
        self.hits: list[web.Request] = []
        self.port = 0

    async def healthz(self, request: web.Request) -> web.Response:
        self.hits.append(request)
        return web.Response(status=self.status, text=f"status {self.status}")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    async def redirect_here(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/healthz")

    async def redirect_loop(self, request: web.Request) -> web.Response:
        self.hits.append(request)
        raise web.HTTPFound("/loop")

    async def redirect_away(self, request: web.Request) -> web.Response:
        # Another host name for the same server: upstream does not follow it.
        raise web.HTTPFound(f"http://localhost:{self.port}/healthz")


@pytest.fixture
async def health_server() -> AsyncIterator[HealthServer]:
    server = HealthServer()
    app = web.Application()
    app.router.add_get("/healthz", server.healthz)
    app.router.add_get("/slow", server.slow)
    app.router.add_get("/redirect-here", server.redirect_here)
    app.router.add_get("/redirect-away", server.redirect_away)
    app.router.add_get("/loop", server.redirect_loop)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


@pytest.fixture
def runtime() -> ExecRuntime:
    return ExecRuntime()
