"""exec, attach and port-forward sessions over a channel WebSocket (see channels.py).

An exec or attach session pumps the process's stdout and stderr to their
channels and the client's stdin, close and resize frames to the process;
once the output is drained and the process has exited it sends the final
status on the error channel and closes the WebSocket, as upstream's
remotecommand server does. A client that goes away ends the session (an
exec'd process is killed, an attached container is left running).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import WSMsgType, web

from pynetes.kubelet.runtime.interface import RuntimeFailure, StreamSession
from pynetes.kubelet.server import channels

log = logging.getLogger(__name__)

_READ_SIZE = 32 * 1024

SessionFactory = Callable[[], Awaitable[StreamSession]]


async def serve_session(
    ws: web.WebSocketResponse, open_session: SessionFactory, *, report_exit_code: bool
) -> None:
    """Run one exec (``report_exit_code``) or attach session on an accepted WebSocket."""
    try:
        session = await open_session()
    except RuntimeFailure as error:
        await _finish(ws, channels.failure_status(f"error executing command in container: {error}"))
        return
    try:
        await _announce(ws, session)
        client = asyncio.create_task(_from_client(ws, session))
        try:
            await asyncio.gather(
                *(
                    _to_client(ws, stream, channel)
                    for stream, channel in (
                        (session.stdout, channels.STDOUT),
                        (session.stderr, channels.STDERR),
                    )
                    if stream is not None
                )
            )
            exit_code = await session.wait()
        finally:
            client.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client
        if report_exit_code and exit_code != 0:
            await _finish(ws, channels.exit_code_status(exit_code))
        else:
            await _finish(ws, channels.success_status())
    except ConnectionResetError:
        log.debug("the client of a stream session went away")
    finally:
        await session.close()


async def _announce(ws: web.WebSocketResponse, session: StreamSession) -> None:
    """An empty frame on the lowest writable channel tells the client the session is up."""
    if session.stdout is not None:
        await ws.send_bytes(channels.frame(channels.STDOUT))
    elif session.stderr is not None:
        await ws.send_bytes(channels.frame(channels.STDERR))
    else:
        await ws.send_bytes(channels.frame(channels.ERROR))


async def _to_client(ws: web.WebSocketResponse, stream: asyncio.StreamReader, channel: int) -> None:
    while chunk := await stream.read(_READ_SIZE):
        if ws.closed:
            return
        await ws.send_bytes(channels.frame(channel, chunk))


async def _from_client(ws: web.WebSocketResponse, session: StreamSession) -> None:
    """stdin, close and resize frames, until the client closes; then the session ends."""
    async for message in ws:
        if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        raw = message.data if isinstance(message.data, bytes) else message.data.encode()
        if not raw:
            continue
        channel, data = channels.split(raw)
        if channel == channels.STDIN and data:
            await session.write_stdin(data)
        elif channel == channels.CLOSE and ws.ws_protocol == channels.V5:
            if data[:1] == bytes((channels.STDIN,)):
                await session.close_stdin()
        elif channel == channels.RESIZE:
            size = channels.parse_resize(data)
            if size is not None:
                session.resize(*size)
    # The client is gone: nobody reads the output any more.
    await session.close()


async def _finish(ws: web.WebSocketResponse, status: bytes) -> None:
    if not ws.closed:
        await ws.send_bytes(channels.frame(channels.ERROR, status))
        await ws.close()


# -- port-forward -------------------------------------------------------------

Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def serve_port_forward(
    ws: web.WebSocketResponse, ports: Sequence[int], connect: Connect, pod: str
) -> None:
    """Forward each of ``ports`` inside the pod through its pair of channels."""
    for index, port in enumerate(ports):
        await ws.send_bytes(channels.frame(2 * index, channels.port_header(port)))
        await ws.send_bytes(channels.frame(2 * index + 1, channels.port_header(port)))
    loop = asyncio.get_running_loop()
    #: data channel -> the connection's writer (None when it could not be made).
    writers: dict[int, asyncio.Future[asyncio.StreamWriter | None]] = {
        2 * index: loop.create_future() for index in range(len(ports))
    }
    pumps = [
        asyncio.create_task(_forward_port(ws, index, port, connect, writers[2 * index], pod))
        for index, port in enumerate(ports)
    ]
    client = asyncio.create_task(_port_frames(ws, writers))
    try:
        await asyncio.wait([client, asyncio.gather(*pumps)], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (client, *pumps):
            task.cancel()
        await asyncio.gather(client, *pumps, return_exceptions=True)
        for future in writers.values():
            if future.done() and future.result() is not None:
                future.result().close()  # type: ignore[union-attr]
        await ws.close()


async def _forward_port(
    ws: web.WebSocketResponse,
    index: int,
    port: int,
    connect: Connect,
    connection: asyncio.Future[asyncio.StreamWriter | None],
    pod: str,
) -> None:
    try:
        reader, writer = await connect(port)
    except (OSError, RuntimeFailure) as error:
        connection.set_result(None)
        message = f"error forwarding port {port} to pod {pod}: {error}"
        await ws.send_bytes(channels.frame(2 * index + 1, message.encode()))
        return
    connection.set_result(writer)
    while chunk := await reader.read(_READ_SIZE):
        await ws.send_bytes(channels.frame(2 * index, chunk))


async def _port_frames(
    ws: web.WebSocketResponse, writers: dict[int, asyncio.Future[asyncio.StreamWriter | None]]
) -> None:
    """Client data to the port of its channel, once that port's connection is made."""
    async for message in ws:
        if message.type != WSMsgType.BINARY or not message.data:
            continue
        channel, data = channels.split(message.data)
        future = writers.get(channel)
        writer = None if future is None else await future
        if writer is not None and data:
            writer.write(data)
            await writer.drain()
