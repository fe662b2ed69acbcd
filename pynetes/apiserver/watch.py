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
    CacheEvent,
    CacheWatcher,
    ExpiredError,
    Predicate,
    WatchCache,
)

#: Without timeoutSeconds, a watch lasts between these (upstream's --min-request-timeout).
MIN_REQUEST_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0

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


async def serve_watch(
    request: web.Request,
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
    try:
        first, watcher = cache.watch(prefix, predicate, after=spec.after)
    except ExpiredError as expired:
        status = errors.gone(str(expired)).status()
        await response.write(_frame("ERROR", status))
        return response
    try:
        await _stream(response, cache, watcher, first, spec, encode)
    except ConnectionResetError:
        pass  # the client left; nothing more to send
    finally:
        watcher.close()
    return response


async def _stream(
    response: web.StreamResponse,
    cache: WatchCache,
    watcher: CacheWatcher,
    first: list[tuple[str, CacheEvent]],
    spec: WatchRequest,
    encode: FrameEncoder,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.timeout
    if first:
        await response.write(b"".join(encode(kind, event) for kind, event in first))
    if spec.send_initial_events:
        await response.write(_bookmark(spec, cache.revision, initial_events_end=True))
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        wait = min(remaining, BOOKMARK_INTERVAL) if spec.allow_bookmarks else remaining
        try:
            async with asyncio.timeout(wait):
                batch = await watcher.next_batch()
        except TimeoutError:
            if spec.allow_bookmarks:
                await response.write(_bookmark(spec, cache.revision))
            continue
        if not batch:
            break  # closed: too slow, or the cache restarted; the client resumes
        await response.write(b"".join(encode(kind, event) for kind, event in batch))
    if spec.allow_bookmarks and not watcher.closed:
        await response.write(_bookmark(spec, cache.revision))


def _frame(event_type: str, obj: Any) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def _bookmark(spec: WatchRequest, revision: int, *, initial_events_end: bool = False) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _frame(
        "BOOKMARK", {"kind": spec.kind, "apiVersion": spec.api_version, "metadata": metadata}
    )
