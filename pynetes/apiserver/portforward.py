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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import WSMsgType, web

from pynetes.api.errors import ApiError
from pynetes.apiserver import spdy, spdyserver
from pynetes.apiserver.spdyserver import Headers, Send, StreamSession, header

#: The WebSocket subprotocol of SPDY tunnelled in WebSocket (kubectl 1.31+).
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: The stream protocol of port-forward over SPDY itself (kubectl 1.30 and before).
STREAM_PROTOCOL = "portforward.k8s.io"
#: The kubelet's port-forward protocol, and its channels: data, then errors (one port).
KUBELET_PROTOCOL = "v4.channel.k8s.io"
_DATA_CHANNEL = 0

#: A WebSocket to the kubelet's port-forward of one port (ApiError when it cannot be had).
Dial = Callable[[int], Awaitable[aiohttp.ClientWebSocketResponse]]


def offered(request: web.BaseRequest) -> bool:
    """Whether the request is kubectl's port-forward (SPDY, upgraded or tunnelled)."""
    return spdyserver.offers_upgrade(request) or spdyserver.offers_tunnel(request, TUNNEL_PROTOCOL)


async def serve(request: web.BaseRequest, dial: Dial) -> web.StreamResponse:
    """Run one kubectl port-forward connection until kubectl ends it."""
    if spdyserver.offers_upgrade(request):
        return await spdyserver.serve_upgraded(
            request, (STREAM_PROTOCOL,), lambda _, send: SpdyPortForward(send, dial)
        )
    return await spdyserver.serve_tunnel(
        request, TUNNEL_PROTOCOL, lambda send: SpdyPortForward(send, dial)
    )


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


class SpdyPortForward(StreamSession):
    """One SPDY connection's streams, forwarded pair by pair."""

    def __init__(self, send: Send, dial: Dial) -> None:
        super().__init__(send)
        self._dial = dial
        self._pairs: dict[str, _Pair] = {}
        self._by_stream: dict[int, _Pair] = {}

    @property
    def connections(self) -> int:
        """Connections being forwarded (each an error and a data stream)."""
        return len(self._pairs)

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

    async def stream_opened(self, stream_id: int, headers: Headers) -> None:
        kind = header(headers, "streamtype")
        pair = self._pairs.setdefault(header(headers, "requestid"), _Pair(header(headers, "port")))
        if kind == "error" and pair.error_stream is None:
            pair.error_stream = stream_id
        elif kind == "data" and pair.data_stream is None:
            pair.data_stream = stream_id
        else:
            await self.reset(stream_id, spdy.PROTOCOL_ERROR)
            return
        self._by_stream[stream_id] = pair
        if pair.error_stream is not None and pair.data_stream is not None:
            pair.task = asyncio.create_task(self._forward(pair))

    async def stream_data(self, frame: spdy.DataFrame) -> None:
        pair = self._by_stream.get(frame.stream_id)
        if pair is None or frame.stream_id != pair.data_stream or not frame.data:
            return  # the error stream carries nothing from the client
        if pair.kubelet is None:
            pair.pending.append(frame.data)
            return
        with contextlib.suppress(ConnectionError):
            await pair.kubelet.send_bytes(bytes((_DATA_CHANNEL,)) + frame.data)

    async def stream_reset(self, stream_id: int) -> None:
        pair = self._by_stream.get(stream_id)
        if pair is None:
            return
        self._forget(pair)
        if pair.task is not None:
            pair.task.cancel()
        if pair.kubelet is not None:
            await pair.kubelet.close()

    def _forget(self, pair: _Pair) -> None:
        """Drop a pair whose connection is over (a long port-forward makes many)."""
        for stream in (pair.error_stream, pair.data_stream):
            self._by_stream.pop(stream, None)  # type: ignore[arg-type]
        for request_id, known in list(self._pairs.items()):
            if known is pair:
                del self._pairs[request_id]

    async def _forward(self, pair: _Pair) -> None:
        assert pair.error_stream is not None and pair.data_stream is not None
        try:
            pair.kubelet = await self._dial(_port(pair.port))
        except ApiError as error:
            await self._finish(pair, error.message.encode())
            self._forget(pair)
            return
        try:
            for chunk in pair.pending:
                await pair.kubelet.send_bytes(bytes((_DATA_CHANNEL,)) + chunk)
            pair.pending.clear()
            await self._from_kubelet(pair, pair.kubelet)
            await self._finish(pair, b"")
        finally:
            self._forget(pair)
            await pair.kubelet.close()

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
                await self.send_data(stream, chunk)

    async def _finish(self, pair: _Pair, error: bytes) -> None:
        """Write ``error`` (if any) and end both streams."""
        if pair.error_stream is None or pair.data_stream is None:
            return
        if error:
            await self.send_data(pair.error_stream, error)
        await self.send_data(pair.error_stream, b"", fin=True)
        await self.send_data(pair.data_stream, b"", fin=True)


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
