"""kubectl's port-forward: SPDY streams, forwarded through the kubelet.

kubectl 1.31 and later open ``pods/NAME/portforward`` as a WebSocket with
subprotocol ``SPDY/3.1+portforward.k8s.io`` and speak SPDY/3.1 inside it
(``spdy.py``); kubectl 1.30 and before POST it with ``Upgrade: SPDY/3.1``
and ``X-Stream-Protocol-Version: portforward.k8s.io`` and speak SPDY on the
connection itself after the 101. Either way, for every local connection to a
forwarded port, an ``error`` stream then a ``data`` stream, both with headers
``port`` and ``requestID``. The API server answers each stream (SYN_REPLY),
pairs them by ``requestID`` and, once both are open, forwards the pair through
a WebSocket of its own to the kubelet's port-forward (``v4.channel.k8s.io``,
one port): data both ways on the data stream; a failure to reach the port is
written to the error stream. When the pod's side closes, both streams finish
(FIN), which is when kubectl closes its local connection; kubectl's own FIN
on the data stream (its local side is done sending) leaves the way back open.
PINGs are echoed; flow control is not enforced, as spdystream does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import WSMsgType, web

from pynetes.api.errors import ApiError
from pynetes.apiserver import spdy

log = logging.getLogger(__name__)

#: The WebSocket subprotocol of SPDY tunnelled in WebSocket (kubectl 1.31+).
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: The stream protocol of port-forward over SPDY itself (kubectl 1.30 and before).
STREAM_PROTOCOL = "portforward.k8s.io"
#: The kubelet's port-forward channels: data, then errors (one port per WebSocket).
_DATA_CHANNEL = 0
_ERROR_CHANNEL = 1

Send = Callable[[bytes], Awaitable[None]]
#: A WebSocket to the kubelet's port-forward of one port (ApiError when it cannot be had).
Dial = Callable[[int], Awaitable[aiohttp.ClientWebSocketResponse]]


def offers_tunnel(request: web.BaseRequest) -> bool:
    """Whether the request asks for port-forward as SPDY in a WebSocket."""
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return TUNNEL_PROTOCOL in (protocol.strip() for protocol in offered.split(","))


async def serve_tunnel(request: web.BaseRequest, dial: Dial) -> web.WebSocketResponse:
    """Accept the WebSocket and run one SPDY port-forward connection in it until it ends."""
    ws = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), max_msg_size=0)
    await ws.prepare(request)
    session = SpdyPortForward(ws.send_bytes, dial)
    try:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await session.feed(message.data)
    except spdy.ProtocolError as error:
        log.info("port-forward connection ended: %s", error)
        with contextlib.suppress(ConnectionError):
            await ws.send_bytes(spdy.goaway(session.last_stream_id))
    finally:
        await session.close()
        await ws.close()
    return ws


def offers_spdy(request: web.BaseRequest) -> bool:
    """Whether the request asks to upgrade the connection itself to SPDY/3.1."""
    return request.headers.get("Upgrade", "").lower() == "spdy/3.1"


async def serve_spdy(request: web.BaseRequest, dial: Dial) -> web.StreamResponse:
    """Switch the connection to SPDY/3.1 and run one port-forward connection on it.

    The 101 has no body of its own, so the response's writes are the SPDY
    bytes as they are; what the client sends after its request goes to the
    session instead of aiohttp's HTTP parser. The connection closes after.
    """
    offered = [
        protocol.strip()
        for protocol in request.headers.get("X-Stream-Protocol-Version", "").split(",")
    ]
    if STREAM_PROTOCOL not in offered:
        raise ApiError(
            400,
            "BadRequest",
            f"unable to upgrade: unable to negotiate protocol: client supports {offered},"
            f" server supports [{STREAM_PROTOCOL}]",
        )
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": STREAM_PROTOCOL,
        },
    )
    await response.prepare(request)
    incoming = _UpgradedBytes()
    request.protocol.set_parser(incoming)  # type: ignore[arg-type]
    session = SpdyPortForward(response.write, dial)
    try:
        while chunk := await incoming.read():
            await session.feed(chunk)
    except spdy.ProtocolError as error:
        log.info("port-forward connection ended: %s", error)
        with contextlib.suppress(ConnectionError):
            await response.write(spdy.goaway(session.last_stream_id))
    except ConnectionError:
        pass
    finally:
        await session.close()
        if request.transport is not None:
            request.transport.close()
    return response


class _UpgradedBytes:
    """The bytes of an upgraded connection, in the shape aiohttp feeds a parser."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._chunks.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._chunks.put_nowait(b"")

    async def read(self) -> bytes:
        """The next bytes; empty at the end of the connection."""
        return await self._chunks.get()


@dataclasses.dataclass
class _Pair:
    """The error and data streams of one forwarded connection (one ``requestID``)."""

    port: str
    error_stream: int | None = None
    data_stream: int | None = None
    #: Client data that came before the kubelet's WebSocket was open.
    pending: list[bytes] = dataclasses.field(default_factory=list)
    kubelet: aiohttp.ClientWebSocketResponse | None = None
    task: asyncio.Task[None] | None = None


class SpdyPortForward:
    """One SPDY connection's streams, forwarded pair by pair."""

    def __init__(self, send: Send, dial: Dial) -> None:
        self._send = send
        self._dial = dial
        self._frames = spdy.FrameReader()
        self._headers = spdy.HeaderCodec()
        self._pairs: dict[str, _Pair] = {}
        self._by_stream: dict[int, _Pair] = {}
        self.last_stream_id = 0

    async def feed(self, data: bytes) -> None:
        """Handle the frames ``data`` completes; ProtocolError ends the connection."""
        for frame in self._frames.feed(data):
            if isinstance(frame, spdy.DataFrame):
                await self._data(frame)
            else:
                await self._control(frame)

    async def close(self) -> None:
        """End every forwarded connection."""
        tasks = [pair.task for pair in self._pairs.values() if pair.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pair in self._pairs.values():
            if pair.kubelet is not None:
                await pair.kubelet.close()
        self._pairs.clear()
        self._by_stream.clear()

    async def _control(self, frame: spdy.ControlFrame) -> None:
        if frame.type == spdy.SYN_STREAM:
            await self._open_stream(frame)
        elif frame.type == spdy.RST_STREAM:
            await self._forget(frame.stream_id())
        elif frame.type == spdy.PING:
            await self._send(spdy.control(spdy.PING, frame.payload))
        elif frame.type == spdy.GOAWAY:
            raise spdy.ProtocolError("the client went away")
        # SETTINGS, WINDOW_UPDATE, HEADERS and unknown types change nothing here.

    async def _open_stream(self, frame: spdy.ControlFrame) -> None:
        stream_id = frame.stream_id()
        self.last_stream_id = max(self.last_stream_id, stream_id)
        headers = self._headers.decode(spdy.syn_stream_headers(frame))
        await self._send(spdy.syn_reply(stream_id, self._headers.encode({})))
        kind = _first(headers, "streamtype")
        request_id = _first(headers, "requestid")
        pair = self._pairs.setdefault(request_id, _Pair(_first(headers, "port")))
        if kind == "error" and pair.error_stream is None:
            pair.error_stream = stream_id
        elif kind == "data" and pair.data_stream is None:
            pair.data_stream = stream_id
        else:
            await self._send(spdy.rst_stream(stream_id, spdy.PROTOCOL_ERROR))
            return
        self._by_stream[stream_id] = pair
        if pair.error_stream is not None and pair.data_stream is not None:
            pair.task = asyncio.create_task(self._forward(pair))

    async def _data(self, frame: spdy.DataFrame) -> None:
        pair = self._by_stream.get(frame.stream_id)
        if pair is None or frame.stream_id != pair.data_stream or not frame.data:
            return  # the error stream carries nothing from the client
        if pair.kubelet is None:
            pair.pending.append(frame.data)
            return
        with contextlib.suppress(ConnectionError):
            await pair.kubelet.send_bytes(bytes((_DATA_CHANNEL,)) + frame.data)

    async def _forget(self, stream_id: int) -> None:
        pair = self._by_stream.pop(stream_id, None)
        if pair is None:
            return
        for request_id, known in list(self._pairs.items()):
            if known is pair:
                del self._pairs[request_id]
        if pair.task is not None:
            pair.task.cancel()
        if pair.kubelet is not None:
            await pair.kubelet.close()

    async def _forward(self, pair: _Pair) -> None:
        assert pair.error_stream is not None and pair.data_stream is not None
        try:
            port = _port(pair.port)
            pair.kubelet = await self._dial(port)
        except ApiError as error:
            await self._finish(pair, error.message.encode())
            return
        for chunk in pair.pending:
            await pair.kubelet.send_bytes(bytes((_DATA_CHANNEL,)) + chunk)
        pair.pending.clear()
        await self._from_kubelet(pair, pair.kubelet)
        await self._finish(pair, b"")

    async def _from_kubelet(self, pair: _Pair, kubelet: aiohttp.ClientWebSocketResponse) -> None:
        """The pod's bytes to the data stream, the kubelet's errors to the error stream;
        each channel's first frame is the port, not data."""
        announced: set[int] = set()
        async for message in kubelet:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, chunk = message.data[0], message.data[1:]
            if channel not in announced:
                announced.add(channel)
                continue
            stream = pair.data_stream if channel == _DATA_CHANNEL else pair.error_stream
            if stream is not None and chunk:
                await self._send(spdy.data(stream, chunk))

    async def _finish(self, pair: _Pair, error: bytes) -> None:
        """Write ``error`` (if any) and end both streams."""
        if pair.error_stream is None or pair.data_stream is None:
            return
        with contextlib.suppress(ConnectionError):
            if error:
                await self._send(spdy.data(pair.error_stream, error))
            await self._send(spdy.data(pair.error_stream, b"", fin=True))
            await self._send(spdy.data(pair.data_stream, b"", fin=True))


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _port(text: str) -> int:
    """The ``port`` header as upstream's kubelet parses it (ApiError when it cannot)."""
    if not text:
        raise ApiError(400, "BadRequest", "port header is required")
    try:
        port = int(text)
    except ValueError:
        raise ApiError(400, "BadRequest", f'unable to parse "{text}" as a port') from None
    if not 0 < port < 65536:
        raise ApiError(400, "BadRequest", f'port "{text}" must be > 0')
    return port
