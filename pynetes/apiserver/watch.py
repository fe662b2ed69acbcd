"""The WATCH verb: a chunked stream of ``{"type": ..., "object": ...}`` lines.

Semantics are kube-apiserver's: no resourceVersion (or "0") starts with the
current state as ADDED events; a resourceVersion resumes after it, or ends
at once with an ERROR event carrying a 410 Expired Status when the history
no longer reaches back; ``sendInitialEvents`` ends the initial burst with a
bookmark annotated ``k8s.io/initial-events-end``; bookmarks (when allowed)
report progress; ``timeoutSeconds`` ends the stream.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from pynetes.api import errors
from pynetes.apiserver.watchcache import (
    WATCHER_QUEUE_LIMIT,
    Batch,
    CacheEvent,
    CacheWatcher,
    ExpiredError,
    Predicate,
    WatchCache,
)

#: Without timeoutSeconds, a watch lasts between these (upstream's --min-request-timeout).
MIN_REQUEST_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0
#: Unsent bytes a connection may hold before deliveries queue for its task instead;
#: also the most the task writes at once. Unsent bytes are encrypted copies, one per
#: connection: this bounds them near 64 KiB + a batch per watcher.
WRITE_LIMIT = 64 * 1024

FrameEncoder = Callable[[str, CacheEvent], bytes]


@dataclass(frozen=True)
class WatchRequest:
    after: int | None
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float
    kind: str
    api_version: str


def timeout_for(timeout_seconds: int | None) -> float:
    if timeout_seconds is not None and timeout_seconds > 0:
        return float(timeout_seconds)
    return MIN_REQUEST_TIMEOUT * (1 + random.random())


def json_frame(kind: str, event: CacheEvent) -> bytes:
    """The default encoding: one ``{"type": ..., "object": ...}`` line, shared by all."""
    return event.frame(kind)


class StreamWatcher(CacheWatcher):
    """A watcher whose events go out as chunks of an HTTP/1.1 chunked response.

    While its task sleeps and the connection keeps up, a delivery is written
    straight to the transport from the cache's flush: no queue, no task
    wake-up. Watchers that receive a whole batch unchanged with the shared
    encoding write one chunk built once per batch. Otherwise (the task is
    busy, or the transport holds unsent bytes) the bytes wait in a backlog
    that the task writes with flow control; a watcher with more than
    WATCHER_QUEUE_LIMIT undelivered events is closed as too slow, and its
    client resumes from its last resourceVersion, as with upstream.
    """

    def __init__(
        self,
        prefix: str,
        predicate: Predicate | None,
        encode: FrameEncoder,
        transport: asyncio.Transport | None,
    ) -> None:
        super().__init__(prefix, predicate)
        self._encode = encode
        self._transport = transport
        self.idle = False
        self._backlog: list[bytes] = []
        self._backlog_events = 0
        self._wakeup = asyncio.Event()

    def deliver(self, batch: Batch) -> None:
        fresh = self.fresh(batch)
        if self.closed or fresh is None:
            return
        batch = fresh
        encode = self._encode
        if encode is json_frame and self.unfiltered(batch):
            count = len(batch.events)
            if self._writes_directly():
                self._write(batch.memo(_CHUNK, lambda: _chunk(_joined(batch))))
                return
            data = batch.memo(_JOINED, lambda: _joined(batch))
        else:
            selected = self.select(batch)
            if not selected:
                return
            count = len(selected)
            data = b"".join(encode(kind, event) for kind, event in selected)
            if self._writes_directly():
                self._write(_chunk(data))
                return
        self._queue(data, count)

    def _writes_directly(self) -> bool:
        transport = self._transport
        return (
            self.idle
            and not self._backlog
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() < WRITE_LIMIT
        )

    def _write(self, chunk: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            self.close()
            return
        transport.write(chunk)

    def _queue(self, data: bytes, events: int) -> None:
        self._backlog_events += events
        if self._backlog_events > WATCHER_QUEUE_LIMIT:
            self.too_slow = True
            self.close()
            return
        self._backlog.append(data)
        self._wakeup.set()

    def encode_each(self, events: list[tuple[str, CacheEvent]]) -> list[bytes]:
        return [self._encode(kind, event) for kind, event in events]

    def take_backlog(self) -> list[bytes]:
        """The bytes waiting for the task to write, now removed from the backlog, in
        pieces of about WRITE_LIMIT (whole batches, so frames stay whole per chunk)."""
        pieces: list[bytes] = []
        gathered: list[bytes] = []
        size = 0
        for data in self._backlog:
            gathered.append(data)
            size += len(data)
            if size >= WRITE_LIMIT:
                pieces.append(b"".join(gathered))
                gathered, size = [], 0
        if gathered:
            pieces.append(b"".join(gathered))
        self._backlog.clear()
        self._backlog_events = 0
        return pieces

    def close(self) -> None:
        super().close()
        self._wakeup.set()

    async def sleep(self, seconds: float) -> bool:
        """Let deliveries go straight out until a backlog, a close, or ``seconds``
        pass; True in the last case."""
        if self._backlog or self.closed:
            return False
        self._wakeup.clear()
        self.idle = True
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            return True
        finally:
            self.idle = False
        return False


_JOINED, _CHUNK = object(), object()


def _joined(batch: Batch) -> bytes:
    return b"".join(event.frame(event.type) for event in batch.events)


def _chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP/1.1 chunk."""
    return b"%x\r\n%b\r\n" % (len(data), data)


async def serve_watch(
    request: web.BaseRequest,
    cache: WatchCache,
    prefix: str,
    predicate: Predicate | None,
    spec: WatchRequest,
    encode: FrameEncoder,
) -> web.StreamResponse:
    """Stream events until the timeout, the client leaving, or the watcher being closed."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    watcher = StreamWatcher(prefix, predicate, encode, request.transport)
    try:
        first = cache.watch(watcher, after=spec.after)
    except ExpiredError as expired:
        status = errors.gone(str(expired)).status()
        await response.write(_frame("ERROR", status))
        return response
    try:
        await _stream(request, response, cache, watcher, first, spec)
    except ConnectionError:
        pass  # the client left; nothing more to send
    finally:
        watcher.close()
    return response


async def _stream(
    request: web.BaseRequest,
    response: web.StreamResponse,
    cache: WatchCache,
    watcher: StreamWatcher,
    first: list[tuple[str, CacheEvent]],
    spec: WatchRequest,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.timeout
    opening = b"".join(watcher.encode_each(first))
    if spec.send_initial_events:
        opening += _bookmark(spec, watcher.since, initial_events_end=True)
    await response.write(opening)  # also sends the headers: direct writes follow them
    while not watcher.closed:
        backlog = watcher.take_backlog()
        if backlog:
            for piece in backlog:
                await request.writer.drain()  # only then: unsent bytes stay bounded
                await response.write(piece)
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        wait = min(remaining, BOOKMARK_INTERVAL) if spec.allow_bookmarks else remaining
        timed_out = await watcher.sleep(wait)
        if timed_out and spec.allow_bookmarks and loop.time() < deadline:
            await response.write(_bookmark(spec, max(cache.delivered_revision, watcher.since)))
    if spec.allow_bookmarks and not watcher.closed:
        await response.write(_bookmark(spec, max(cache.delivered_revision, watcher.since)))


def _frame(event_type: str, obj: Any) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def _bookmark(spec: WatchRequest, revision: int, *, initial_events_end: bool = False) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _frame(
        "BOOKMARK", {"kind": spec.kind, "apiVersion": spec.api_version, "metadata": metadata}
    )
