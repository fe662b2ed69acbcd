"""Watches: a resource's changes as a stream of events, once or resumed across breaks.

:func:`watch` is one watch request: the server's newline-delimited
``{"type": ..., "object": ...}`` lines, decoded as they arrive (a line may
span chunks, and an object may be megabytes). It ends when the server ends
the stream (``timeoutSeconds``, or the server's own limit). An ERROR event
raises its Status as an :class:`~pynetes.client.errors.ApiError`, so an
expired resourceVersion raises :class:`~pynetes.client.errors.Gone`.

:class:`ResumingWatcher` is what a reflector watches with (client-go's
``RetryWatcher``): it re-watches from the last resourceVersion it saw after
the stream ends or breaks, so no event is lost or repeated, and stops only
on Gone (the caller relists) or on an error that retrying cannot fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Self

import orjson

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.flowcontrol import Sleep
from pynetes.client.rest import ApiClient, resource_path
from pynetes.client.retry import Backoff, transient

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


@dataclass(frozen=True)
class WatchEvent:
    """One change: ADDED, MODIFIED, DELETED, or a BOOKMARK (progress, no change).

    A bookmark's object carries only ``kind``, ``apiVersion`` and
    ``metadata.resourceVersion`` (and, ending the initial events of a
    ``sendInitialEvents`` watch, the ``k8s.io/initial-events-end`` annotation).
    """

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        """The object's ``metadata.resourceVersion`` ("" if it has none)."""
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


async def watch(
    client: ApiClient,
    resource: Resource,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    resource_version: str | None = None,
    allow_bookmarks: bool = True,
    timeout_seconds: int | None = None,
) -> AsyncGenerator[WatchEvent, None]:
    """The events of one watch request, bookmarks included, as they arrive.

    ``namespace`` None watches across all namespaces. Without
    ``resource_version`` (or with "0") the server starts with the current
    objects as ADDED events; with one, it sends the changes after it.
    Raises :class:`~pynetes.client.errors.Gone` if that version is too old,
    :class:`~pynetes.client.errors.TransportError` if the connection breaks
    or a line cannot be decoded. Close it (``contextlib.aclosing``) when
    stopping early, to release the connection at once.
    """
    params = {
        "watch": True,
        "labelSelector": label_selector,
        "fieldSelector": field_selector,
        "resourceVersion": resource_version,
        "allowWatchBookmarks": allow_bookmarks or None,
        "timeoutSeconds": timeout_seconds,
    }
    async with (
        client.stream(resource_path(resource, namespace), params=params) as chunks,
        aclosing(lines(chunks)) as stream_lines,
    ):
        async for line in stream_lines:
            yield decode_event(line)


async def lines(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The non-blank lines of a byte stream, however its chunks cut them.

    A final line without a newline is still a line. Pieces of a long line
    are joined once, when its newline comes.
    """
    pending: list[bytes] = []
    async for chunk in chunks:
        pieces = chunk.split(b"\n")
        if len(pieces) == 1:
            pending.append(chunk)
            continue
        pending.append(pieces[0])
        for line in (b"".join(pending), *pieces[1:-1]):
            if line.strip():
                yield line
        pending = [pieces[-1]] if pieces[-1] else []
    last = b"".join(pending)
    if last.strip():
        yield last


def decode_event(line: bytes) -> WatchEvent:
    """A watch line as an event; an ERROR event raises the error its Status stands for."""
    try:
        decoded = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise errors.TransportError(f"undecodable watch event: {error}") from error
    if not isinstance(decoded, dict) or not isinstance(decoded.get("object"), dict):
        raise errors.TransportError("a watch event without an object")
    if decoded.get("type") == ERROR:
        raise errors.from_status(decoded["object"])
    return WatchEvent(str(decoded.get("type")), decoded["object"])


class ResumingWatcher:
    """Object events from ``resource_version`` on, for as long as it is iterated.

    Iterate it (``async for event in watcher``) and close it when done
    (``async with`` does). Each stream is a :func:`watch` with bookmarks on;
    when one ends (a server-side timeout) the next starts at once from
    :attr:`resource_version`, the version of the last event or bookmark
    seen, so events are neither lost nor delivered twice. A broken
    connection, or a 429/5xx, is retried after a backoff that resets once
    an event arrives. It raises :class:`~pynetes.client.errors.Gone` when
    that version has expired (relist and start a new watcher), and any other
    API error (403, 404, ...) as is.

    Bookmarks are not yielded: they advance :attr:`resource_version` and are
    passed to ``on_bookmark``, so a reflector can record its progress.

    ``resource_version`` is normally a list's: the watch sends what changed
    after it. "" or "0" starts with the current objects as ADDED events
    instead; resuming from there is still exact, because until an event or
    bookmark arrives nothing has been delivered that could come twice (a
    list answered "0" only if it was empty).
    """

    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        on_bookmark: Callable[[WatchEvent], None] | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        #: The version to resume from: the last event's or bookmark's.
        self.resource_version = resource_version
        self._client = client
        self._resource = resource
        self._namespace = namespace
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._timeout_seconds = timeout_seconds
        self._on_bookmark = on_bookmark
        self._backoff = backoff or Backoff(initial=1.0)
        self._sleep = sleep
        self._events: AsyncGenerator[WatchEvent, None] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._events is None:
            self._events = self._run()
        return await anext(self._events)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop watching and release the connection."""
        if self._events is not None:
            await self._events.aclose()

    async def _run(self) -> AsyncGenerator[WatchEvent, None]:
        failures = 0
        while True:
            try:
                async with aclosing(self._stream()) as events:
                    async for event in events:
                        failures = 0
                        yield event
                failures = 0  # the server ended the stream: resume at once
                continue
            except errors.TransportError:
                pass
            except errors.ApiError as error:
                if not transient(error):  # Gone among them: the caller must relist
                    raise
            failures += 1
            await self._sleep(self._backoff.delay(failures))

    async def _stream(self) -> AsyncGenerator[WatchEvent, None]:
        """One watch from :attr:`resource_version`, bookmarks consumed here."""
        events = watch(
            self._client,
            self._resource,
            namespace=self._namespace,
            label_selector=self._label_selector,
            field_selector=self._field_selector,
            resource_version=self.resource_version,
            allow_bookmarks=True,
            timeout_seconds=self._timeout_seconds,
        )
        async with aclosing(events):
            async for event in events:
                self.resource_version = event.resource_version or self.resource_version
                if event.type != BOOKMARK:
                    yield event
                elif self._on_bookmark is not None:
                    self._on_bookmark(event)
