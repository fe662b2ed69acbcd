"""exec and attach over SPDY (kubectl 1.29 and before, and cp, which is exec of tar).

Such a kubectl upgrades ``pods/NAME/exec`` (or ``attach``) to SPDY/3.1 with
stream protocol ``v4.channel.k8s.io`` (``spdyserver.py``) and opens one stream
per channel, named by its ``streamType`` header: ``error`` always, then
``stdin``, ``stdout``, ``stderr`` (not with a tty) and ``resize`` (with a tty)
as the request's ``stdin``, ``stdout``, ``stderr`` and ``tty`` ask. The API
server has opened the kubelet's channel WebSocket (``v5.channel.k8s.io``)
before answering the upgrade, so a refusal (no such container, an
unreachable kubelet) is the HTTP error kubectl prints; the session then
carries the channels across:

- stdin data to channel 0, and the stdin stream's end (FIN) as channel 255's
  close of channel 0, so ``cat`` and ``tar`` see the end of their input;
- each JSON size on the resize stream to channel 4;
- channels 1 and 2 to the stdout and stderr streams, channel 3 (the final
  Status: Success, or NonZeroExitCode with the exit code) to the error stream.

When the kubelet ends the session, the streams finish and the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import WSMsgType

from pynetes.apiserver import spdy
from pynetes.apiserver.spdyserver import Headers, Send, StreamSession, header

#: The stream protocol served (kubectl offers it first; v1-v3 word errors differently).
STREAM_PROTOCOL = "v4.channel.k8s.io"
#: The kubelet's channel WebSocket protocol this session speaks to it.
KUBELET_PROTOCOL = "v5.channel.k8s.io"

_STDIN, _RESIZE, _CLOSE = 0, 4, 255
#: The kubelet's channels that become streams back to the client.
_TO_CLIENT = {1: "stdout", 2: "stderr", 3: "error"}


def expected_streams(*, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> frozenset[str]:
    """The streams kubectl opens for these options (upstream's v4 protocol)."""
    wanted = {"error"}
    if stdin:
        wanted.add("stdin")
    if stdout:
        wanted.add("stdout")
    if stderr and not tty:
        wanted.add("stderr")
    if tty:
        wanted.add("resize")
    return frozenset(wanted)


class SpdyRemoteCommand(StreamSession):
    """One exec or attach: the client's SPDY streams and the kubelet's channels."""

    def __init__(
        self, send: Send, kubelet: aiohttp.ClientWebSocketResponse, expected: frozenset[str]
    ) -> None:
        super().__init__(send)
        self._kubelet = kubelet
        self._expected = expected
        self._streams: dict[str, int] = {}
        self._kinds: dict[int, str] = {}
        self._sizes = bytearray()
        self._pump: asyncio.Task[None] | None = None

    async def stream_opened(self, stream_id: int, headers: Headers) -> None:
        kind = header(headers, "streamtype")
        if kind not in self._expected or kind in self._streams:
            await self.reset(stream_id, spdy.PROTOCOL_ERROR)
            return
        self._streams[kind] = stream_id
        self._kinds[stream_id] = kind
        if self._streams.keys() == self._expected:
            self._pump = asyncio.create_task(self._from_kubelet())

    async def stream_data(self, frame: spdy.DataFrame) -> None:
        kind = self._kinds.get(frame.stream_id)
        if kind == "stdin":
            if frame.data:
                await self._to_kubelet(_STDIN, frame.data)
            if frame.fin:
                await self._to_kubelet(_CLOSE, bytes((_STDIN,)))
        elif kind == "resize":
            self._sizes += frame.data
            *sizes, rest = self._sizes.split(b"\n")
            self._sizes = bytearray(rest)
            for size in sizes:
                if size.strip():
                    await self._to_kubelet(_RESIZE, bytes(size))

    async def stream_reset(self, stream_id: int) -> None:
        if self._kinds.get(stream_id) == "stdin":
            await self._to_kubelet(_CLOSE, bytes((_STDIN,)))

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._kubelet.close()

    async def _to_kubelet(self, channel: int, data: bytes) -> None:
        with contextlib.suppress(ConnectionError):
            await self._kubelet.send_bytes(bytes((channel,)) + data)

    async def _from_kubelet(self) -> None:
        """The kubelet's output and final status to their streams, then the end of each."""
        async for message in self._kubelet:
            if message.type != WSMsgType.BINARY or len(message.data) < 2:
                continue
            kind = _TO_CLIENT.get(message.data[0])
            stream = self._streams.get(kind) if kind else None
            if stream is not None:
                await self.send_data(stream, message.data[1:])
        for kind in _TO_CLIENT.values():
            stream = self._streams.get(kind)
            if stream is not None:
                await self.send_data(stream, b"", fin=True)
        self.finished.set()
