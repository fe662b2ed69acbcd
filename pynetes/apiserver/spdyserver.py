"""SPDY/3.1 connections the API server accepts, and the stream sessions that run them.

kubectl speaks SPDY/3.1 (``spdy.py``) for port-forward in every version and for
exec, attach and cp up to 1.29. It gets there one of two ways:

- an upgrade of the HTTP connection itself: ``Upgrade: SPDY/3.1`` with the
  stream protocols it speaks in ``X-Stream-Protocol-Version``; the server
  answers 101 with the one it chose, and the connection carries SPDY;
- SPDY inside a WebSocket (port-forward, kubectl 1.31+): subprotocol
  ``SPDY/3.1+portforward.k8s.io``, the SPDY bytes in binary messages.

A :class:`StreamSession` answers every stream the client opens (SYN_REPLY),
echoes PINGs and ends on GOAWAY; its subclass says what the streams mean.
The connection ends when the client's side does or when the session is
:attr:`~StreamSession.finished` (an exec whose command exited).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import WSMsgType, web

from pynetes.api.errors import ApiError
from pynetes.apiserver import spdy

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]
Headers = dict[str, list[str]]


class StreamSession(abc.ABC):
    """The streams of one SPDY connection from a client."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._frames = spdy.FrameReader()
        self._headers = spdy.HeaderCodec()
        self.last_stream_id = 0
        #: Set by the subclass when the connection has nothing more to do.
        self.finished = asyncio.Event()

    async def feed(self, data: bytes) -> None:
        """Handle the frames ``data`` completes; ProtocolError ends the connection."""
        for frame in self._frames.feed(data):
            if isinstance(frame, spdy.DataFrame):
                await self.stream_data(frame)
            elif frame.type == spdy.SYN_STREAM:
                stream_id = frame.stream_id()
                self.last_stream_id = max(self.last_stream_id, stream_id)
                headers = self._headers.decode(spdy.syn_stream_headers(frame))
                await self._send(spdy.syn_reply(stream_id, self._headers.encode({})))
                await self.stream_opened(stream_id, headers)
            elif frame.type == spdy.RST_STREAM:
                await self.stream_reset(frame.stream_id())
            elif frame.type == spdy.PING:
                await self._send(spdy.control(spdy.PING, frame.payload))
            elif frame.type == spdy.GOAWAY:
                raise spdy.ProtocolError("the client went away")
            # SETTINGS, WINDOW_UPDATE (flow control is not enforced, as spdystream
            # does not), HEADERS and unknown types change nothing here.

    async def send_data(self, stream_id: int, chunk: bytes, *, fin: bool = False) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(spdy.data(stream_id, chunk, fin=fin))

    async def reset(self, stream_id: int, status: int) -> None:
        await self._send(spdy.rst_stream(stream_id, status))

    @abc.abstractmethod
    async def stream_opened(self, stream_id: int, headers: Headers) -> None:
        """The client opened ``stream_id`` with ``headers`` (lower-cased names)."""

    @abc.abstractmethod
    async def stream_data(self, frame: spdy.DataFrame) -> None:
        """Data (possibly empty, possibly the last: ``frame.fin``) on a stream."""

    @abc.abstractmethod
    async def stream_reset(self, stream_id: int) -> None:
        """The client abandoned ``stream_id``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """The connection is over: end whatever the session started."""


def header(headers: Headers, name: str) -> str:
    """The first value of ``name`` ("" when absent)."""
    values = headers.get(name)
    return values[0] if values else ""


def offers_upgrade(request: web.BaseRequest) -> bool:
    """Whether the request asks to upgrade the connection itself to SPDY/3.1."""
    return request.headers.get("Upgrade", "").lower() == "spdy/3.1"


def offers_tunnel(request: web.BaseRequest, subprotocol: str) -> bool:
    """Whether the request asks for SPDY in a WebSocket of ``subprotocol``."""
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return subprotocol in (protocol.strip() for protocol in offered.split(","))


async def serve_upgraded(
    request: web.BaseRequest,
    protocols: Sequence[str],
    session_for: Callable[[str, Send], StreamSession],
) -> web.StreamResponse:
    """Switch the connection to SPDY/3.1 with the first of the client's stream protocols
    that is one of ``protocols``, run ``session_for(protocol, send)`` on it, then close it.

    The 101 has no body of its own, so the response's writes are the SPDY bytes
    as they are; what the client sends after its request goes to the session
    instead of aiohttp's HTTP parser.
    """
    offered = [
        protocol.strip()
        for line in request.headers.getall("X-Stream-Protocol-Version", [])
        for protocol in line.split(",")
        if protocol.strip()
    ]
    if not offered:
        raise ApiError(403, "Forbidden", "unable to upgrade: X-Stream-Protocol-Version is required")
    chosen = next((protocol for protocol in offered if protocol in protocols), None)
    if chosen is None:  # upstream's httpstream.Handshake: a 403 naming both sides' protocols
        raise ApiError(
            403,
            "Forbidden",
            "unable to upgrade: unable to negotiate protocol: client supports"
            f" [{' '.join(offered)}], server accepts [{' '.join(protocols)}]",
        )
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": chosen,
        },
    )
    await response.prepare(request)
    incoming = _UpgradedBytes()
    request.protocol.set_parser(incoming)  # type: ignore[arg-type]
    try:
        await _run(session_for(chosen, response.write), incoming.chunks(), response.write)
    finally:
        if request.transport is not None:
            request.transport.close()
    return response


async def serve_tunnel(
    request: web.BaseRequest, subprotocol: str, session_for: Callable[[Send], StreamSession]
) -> web.WebSocketResponse:
    """Accept the WebSocket and run ``session_for(send)`` in it until either side ends."""
    ws = web.WebSocketResponse(protocols=(subprotocol,), max_msg_size=0)
    await ws.prepare(request)

    async def chunks() -> AsyncIterator[bytes]:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                yield message.data

    try:
        await _run(session_for(ws.send_bytes), chunks(), ws.send_bytes)
    finally:
        await ws.close()
    return ws


async def _run(session: StreamSession, chunks: AsyncIterator[bytes], send: Send) -> None:
    """Feed ``session`` until the client's bytes end or the session is finished."""

    async def feed_all() -> None:
        async for chunk in chunks:
            await session.feed(chunk)

    reading = asyncio.create_task(feed_all())
    finished = asyncio.create_task(session.finished.wait())
    try:
        await asyncio.wait((reading, finished), return_when=asyncio.FIRST_COMPLETED)
        if reading.done():
            reading.result()
    except spdy.ProtocolError as error:
        log.info("SPDY connection ended: %s", error)
        with contextlib.suppress(ConnectionError):
            await send(spdy.goaway(session.last_stream_id))
    except ConnectionError:
        pass
    finally:
        for task in (reading, finished):
            task.cancel()
        await asyncio.gather(reading, finished, return_exceptions=True)
        await session.close()


class _UpgradedBytes:
    """The bytes of an upgraded connection, in the shape aiohttp feeds a parser."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._chunks.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._chunks.put_nowait(b"")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The client's bytes until the connection ends."""
        while chunk := await self._chunks.get():
            yield chunk
