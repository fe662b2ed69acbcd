"""The kubelet's HTTPS API: health, pods, metrics, and the streams the API server proxies to.

Paths as upstream's kubelet serves them::

    /healthz
    /pods                                         PodList of the pods this kubelet runs
    /metrics                                      Prometheus text
    /metrics/resource                             CPU and memory of the node, pods, containers
    /containerLogs/{namespace}/{pod}/{container}  ?follow&tailLines&sinceSeconds&sinceTime
                                                   &timestamps&previous&limitBytes
    /exec/{namespace}/{pod}[/{uid}]/{container}   ?command=..&input=1&output=1&error=1&tty=1
    /attach/{namespace}/{pod}[/{uid}]/{container} ?input=1&output=1&error=1&tty=1
    /portForward/{namespace}/{pod}[/{uid}]        ?port=80,443

(``stdin``/``stdout``/``stderr`` are accepted beside upstream's
``input``/``output``/``error``, ``ports`` beside ``port``, and the old ``tail``
beside ``tailLines``.) Errors are plain text with upstream's codes and words:
404 for an unknown pod or container, 400 for parameters that do not parse,
422 for log options that are not valid. exec, attach and port-forward speak the
channel WebSocket protocols only (channels.py), not SPDY.

Every request must present a client certificate signed by the client CA
(401 otherwise) unless client authentication is turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from multidict import MultiMapping
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pynetes.api.pods import pod_containers
from pynetes.kubelet.logs import LogOptions, read_logs
from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import ContainerState, RuntimeService
from pynetes.kubelet.server import channels, resourcemetrics, streams
from pynetes.kubelet.server.tls import ensure_self_signed, serving_context

Object = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False", ""}


class RunningPods(Protocol):
    """What the kubelet knows of the pods it runs: what this server serves from."""

    def pods(self) -> list[Object]:
        """The pods this kubelet runs, as API objects."""
        ...

    def pod(self, namespace: str, name: str) -> Object | None: ...

    def container_id(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> str | None:
        """The runtime's id of the container's current (or previous, terminated) instance."""
        ...

    def sandbox_id(self, namespace: str, pod: str) -> str | None: ...


@dataclass(frozen=True)
class ServingOptions:
    """The kubelet's serving flags, by their upstream names."""

    address: str = "0.0.0.0"
    port: int = 10250
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    #: Where the self-signed pair goes when no certificate is given (``--cert-dir``).
    cert_dir: Path | None = None
    client_ca_file: Path | None = None
    #: Require a client certificate signed by ``client_ca_file`` (anonymous auth off).
    require_client_certificate: bool = True


class _BadRequest(Exception):
    """A 400 (or another ``code``) answered with the exception's text."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


_UNDECODABLE = '{"message": "Unable to decode query."}'
_INVALID_LOG_OPTIONS = '{"message": "Invalid request."}'


class KubeletServer:
    """The aiohttp application of the kubelet's API, and its HTTPS listener."""

    def __init__(
        self,
        pods: RunningPods,
        runtime: RuntimeService,
        *,
        registry: CollectorRegistry,
        options: ServingOptions,
    ) -> None:
        if options.require_client_certificate and options.client_ca_file is None:
            raise ValueError("client certificate authentication needs a client CA file")
        self._pods = pods
        self._runtime = runtime
        self._registry = registry
        self._options = options
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate])
        for path, handler in (
            ("/healthz", self._healthz),
            ("/pods", self._pod_list),
            ("/metrics", self._metrics),
            ("/metrics/resource", self._resource_metrics),
            ("/containerLogs/{namespace}/{pod}/{container}", self._logs),
        ):
            app.router.add_route("GET", path, handler)
        # Streams are GET (WebSocket) or POST (SPDY, answered with a 400).
        for path, handler in (
            ("/exec/{namespace}/{pod}/{container}", self._exec),
            ("/exec/{namespace}/{pod}/{uid}/{container}", self._exec),
            ("/attach/{namespace}/{pod}/{container}", self._attach),
            ("/attach/{namespace}/{pod}/{uid}/{container}", self._attach),
            ("/portForward/{namespace}/{pod}", self._port_forward),
            ("/portForward/{namespace}/{pod}/{uid}", self._port_forward),
        ):
            app.router.add_route("*", path, handler)
        return app

    async def start(self) -> int:
        """Listen with TLS; returns the port (useful with port 0)."""
        options = self._options
        if options.tls_cert_file is not None and options.tls_private_key_file is not None:
            cert, key = options.tls_cert_file, options.tls_private_key_file
        else:
            if options.cert_dir is None:
                raise ValueError("no serving certificate, and no folder for a self-signed one")
            cert, key = await asyncio.to_thread(ensure_self_signed, options.cert_dir)
        context = serving_context(cert, key, options.client_ca_file)
        self._runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, options.address, options.port, ssl_context=context)
        await site.start()
        return self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- middleware ------------------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._options.require_client_certificate:
            transport = request.transport
            peer = transport.get_extra_info("peercert") if transport is not None else None
            if not peer:
                return web.Response(status=401, text="Unauthorized")
        try:
            return await handler(request)
        except _BadRequest as error:
            return web.Response(status=error.code, text=str(error))

    # -- simple paths ----------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _pod_list(self, request: web.Request) -> web.StreamResponse:
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": self._pods.pods()}
        return web.json_response(body)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=generate_latest(self._registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _resource_metrics(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=await resourcemetrics.scrape(self._runtime))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # -- logs ------------------------------------------------------------------

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        container = request.match_info["container"]
        options, previous = _log_options(request.query, time.time_ns())
        missing = self._missing(namespace, name, container, uid=None)
        if missing is not None:
            return missing
        container_id = self._pods.container_id(namespace, name, container, previous=previous)
        if container_id is None:
            if previous:
                message = f'previous terminated container "{container}" in pod "{name}" not found'
            else:
                message = (
                    f'container "{container}" in pod "{name}" is waiting to start:'
                    " ContainerCreating"
                )
            return web.Response(status=400, text=message)
        status = await self._runtime.container_status(container_id)

        async def running() -> bool:
            current = await self._runtime.container_status(container_id)
            return current.state in (ContainerState.RUNNING, ContainerState.CREATED)

        # aclosing: a client that goes away mid-follow closes the file at once.
        reader = read_logs(status.log_path, options, running=running)
        async with contextlib.aclosing(reader) as chunks:
            try:
                first = await anext(chunks, b"")
            except FileNotFoundError:
                return web.Response(
                    status=500, text=f'failed to open log file "{status.log_path}": no such file'
                )
            response = web.StreamResponse()
            response.content_type = "text/plain"
            if options.follow:
                response.enable_chunked_encoding()
            await response.prepare(request)
            if first:
                await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
            return response

    # -- streams ---------------------------------------------------------------

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        command = request.query.getall("command", [])
        if not command:
            return web.Response(status=400, text="you must specify a command")
        return await self._session(request, command)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._session(request, None)

    async def _session(self, request: web.Request, command: list[str] | None) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        container = request.match_info["container"]
        missing = self._missing(namespace, name, container, uid=request.match_info.get("uid", ""))
        if missing is not None:
            return missing
        query = request.query
        tty = _flag(query, "tty")
        stdin = _flag(query, "input", "stdin")
        stdout = _flag(query, "output", "stdout")
        stderr = _flag(query, "error", "stderr") and not tty
        if not (stdin or stdout or stderr):
            return web.Response(
                status=400, text="you must specify at least 1 of stdin, stdout, stderr"
            )
        container_id = self._pods.container_id(namespace, name, container)
        if container_id is None:
            return web.Response(status=404, text=f'container not found ("{container}")')
        ws = await _accept(request, channels.STREAM_PROTOCOLS)
        if isinstance(ws, web.Response):
            return ws
        runtime = self._runtime

        async def open_session() -> Any:
            if command is None:
                return await runtime.attach(
                    container_id, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr
                )
            return await runtime.exec(
                container_id, command, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr
            )

        await streams.serve_session(ws, open_session, report_exit_code=command is not None)
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        missing = self._missing(namespace, name, None, uid=request.match_info.get("uid", ""))
        if missing is not None:
            return missing
        ports = _ports(request.query)
        sandbox_id = self._pods.sandbox_id(namespace, name)
        if sandbox_id is None:
            return web.Response(status=404, text=f'pod "{name}" has no running sandbox')
        ws = await _accept(request, channels.PORT_FORWARD_PROTOCOLS)
        if isinstance(ws, web.Response):
            return ws
        runtime = self._runtime

        async def connect(port: int) -> Any:
            return await runtime.port_forward(sandbox_id, port)

        await streams.serve_port_forward(ws, ports, connect, f"{namespace}/{name}")
        return ws

    def _missing(
        self, namespace: str, name: str, container: str | None, *, uid: str | None
    ) -> web.Response | None:
        """The 404 for an unknown pod (or uid) or container, else None.

        Worded as upstream: the logs name the pod; exec, attach and
        port-forward (those with a ``uid`` path variant) do not.
        """
        logs = uid is None and container is not None
        pod = self._pods.pod(namespace, name)
        if pod is None:
            text = f'pod "{name}" does not exist' if logs else "pod does not exist"
            return web.Response(status=404, text=text)
        if uid and (pod.get("metadata") or {}).get("uid") != uid:
            return web.Response(status=404, text="pod not found")
        if container is not None and container not in _container_names(pod):
            if logs:
                text = f'container "{container}" not found in pod "{name}"'
            else:
                text = f'container not found ("{container}")'
            return web.Response(status=404, text=text)
        return None


async def _accept(
    request: web.Request, protocols: tuple[str, ...]
) -> web.WebSocketResponse | web.Response:
    ws = web.WebSocketResponse(protocols=protocols, autoping=True, max_msg_size=0)
    if not ws.can_prepare(request).ok:
        return web.Response(
            status=400,
            text="this kubelet serves exec, attach and port-forward over WebSocket only"
            f" (subprotocols {', '.join(protocols)}), not SPDY",
        )
    await ws.prepare(request)
    return ws


def _container_names(pod: Object) -> list[str]:
    return [container.get("name", "") for container in pod_containers(pod.get("spec") or {})]


def _flag(query: MultiMapping[str], *names: str) -> bool:
    for name in names:
        value = query.get(name)
        if value is None:
            continue
        if value in _TRUE:
            return True
        if value not in _FALSE:
            raise _BadRequest(f'invalid boolean value for {name}: "{value}"')
    return False


def _integer(value: str | None, minimum: int) -> int | None:
    """A log option's number: 400 when it does not parse, 422 when below ``minimum``."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise _BadRequest(_UNDECODABLE) from None
    if number < minimum:
        raise _BadRequest(_INVALID_LOG_OPTIONS, 422)
    return number


def _log_options(query: MultiMapping[str], now_ns: int) -> tuple[LogOptions, bool]:
    """The log options of a ``/containerLogs`` query, and whether ``previous`` is asked."""
    tail = query.get("tail")  # the old name of tailLines; "all" means no tail
    tail_lines = query.get("tailLines") if tail is None else (None if tail == "all" else tail)
    since_seconds = _integer(query.get("sinceSeconds"), 1)
    since_time = query.get("sinceTime")
    if since_seconds is not None and since_time:
        raise _BadRequest(_INVALID_LOG_OPTIONS, 422)
    since_ns: int | None = None
    if since_seconds is not None:
        since_ns = now_ns - since_seconds * 1_000_000_000
    elif since_time:
        try:
            since_ns = crilog.parse_timestamp(since_time)
        except ValueError:
            raise _BadRequest(_UNDECODABLE) from None
    try:
        options = LogOptions(
            follow=_flag(query, "follow"),
            tail_lines=_integer(tail_lines, 0),
            since_ns=since_ns,
            timestamps=_flag(query, "timestamps"),
            limit_bytes=_integer(query.get("limitBytes"), 1),
        )
        return options, _flag(query, "previous")
    except _BadRequest as error:
        if error.code == 400:
            raise _BadRequest(_UNDECODABLE) from None
        raise


def _ports(query: MultiMapping[str]) -> list[int]:
    values = query.getall("port", []) + query.getall("ports", [])
    if not values:
        raise _BadRequest('query parameter "port" is required')
    ports = []
    for value in values:
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise _BadRequest(f'unable to parse "{value}" as a port') from None
            if not 0 < port < 65536:
                raise _BadRequest(f'port "{value}" must be > 0')
            ports.append(port)
    return ports
