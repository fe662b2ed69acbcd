"""An event recorder: core/v1 Events about objects, as client-go's ``tools/record``.

:meth:`EventRecorder.event` never blocks and never raises: it makes the
Event and queues it. A background task then passes each one through the
:class:`EventCorrelator` and writes it:

* an Event identical to one already written (same source, object, type,
  reason and message) becomes a strategic merge PATCH of that Event's
  ``count``, ``lastTimestamp`` and ``message``;
* from the 10th distinct message with the same source, object, type and
  reason within 10 minutes on, those messages go to one
  "(combined from similar events): <message>" Event instead;
* each source may write 25 Events about an object in a burst, then one
  every 5 minutes; the excess is dropped.

A full queue drops the Event with a log line. Write failures are logged:
a rejected Event is abandoned, a broken connection retried (12 tries, 10 s
apart) as upstream's ``recordToSink`` does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

from pynetes.api.meta import timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.flowcontrol import Clock, Sleep, TokenBucket
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)

EVENTS = built_in("", "v1", "events")
NORMAL = "Normal"
WARNING = "Warning"

#: Upstream's defaults (``tools/record``): queue length, retries, correlator.
MAX_QUEUED_EVENTS = 1000
MAX_TRIES_PER_EVENT = 12
RETRY_SLEEP = 10.0
LRU_CACHE_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
AGGREGATE_MESSAGE_PREFIX = "(combined from similar events): "

Object = dict[str, Any]
K = TypeVar("K")
V = TypeVar("V")

#: ObjectReference fields in the order upstream serializes them.
_REFERENCE_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")


def object_reference(obj: Object, field_path: str = "") -> Object:
    """An ObjectReference to ``obj``, as upstream's ``ref.GetReference``.

    ``obj`` must carry ``kind`` and ``apiVersion`` (objects in a list
    response do not; there is no scheme here to look them up): ValueError
    otherwise. Empty fields are left out; ``field_path`` names a part of
    the object (``spec.containers{app}``).
    """
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not kind or not api_version:
        raise ValueError("an object needs kind and apiVersion to be referenced")
    meta = obj.get("metadata") or {}
    reference = {"kind": kind, "apiVersion": api_version, **meta}
    fields = {key: reference.get(key) for key in _REFERENCE_FIELDS}
    fields["fieldPath"] = field_path
    return {key: value for key, value in fields.items() if value}


class EventRecorder:
    """Records Events from ``component`` (running on ``reporting_instance``).

    ``reporting_instance`` (``source.host`` and ``reportingInstance``)
    defaults to this machine's host name; pass "" to leave it out, as
    controllers upstream do. Use as ``async with``, or call :meth:`close`.
    ``clock`` (monotonic) measures the correlator's windows, ``wall_clock``
    stamps the Events; ``sleep`` and ``random`` drive retries.
    """

    def __init__(
        self,
        client: ApiClient,
        component: str,
        *,
        reporting_instance: str | None = None,
        queue_size: int = MAX_QUEUED_EVENTS,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.component = component
        self.reporting_instance = (
            socket.gethostname() if reporting_instance is None else reporting_instance
        )
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._random = random
        self._correlator = EventCorrelator(clock=clock, wall_clock=wall_clock)
        self._queue: asyncio.Queue[Object] = asyncio.Queue(maxsize=queue_size)
        self._worker: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def event(self, obj: Object, event_type: str, reason: str, message: str) -> None:
        """Record an Event about ``obj`` (an object, or an ObjectReference to one).

        ``event_type`` is :data:`NORMAL` or :data:`WARNING`; ``reason`` is
        short and UpperCamelCase; ``message`` is for humans. The Event goes
        to the object's namespace ("default" for cluster-scoped objects).
        Must be called on the event loop; returns at once.
        """
        if self._closing.is_set():
            log.error("event recorder is closed; dropped event %s %s", reason, message)
            return
        if event_type not in (NORMAL, WARNING):
            log.error("unsupported event type %r; dropped event %s %s", event_type, reason, message)
            return
        try:
            reference = obj if "metadata" not in obj else object_reference(obj)
        except ValueError as error:
            log.error("could not reference %r (%s); dropped event %s", obj, error, reason)
            return
        self._enqueue(self._make_event(reference, event_type, reason, message))

    def eventf(
        self, obj: Object, event_type: str, reason: str, message_format: str, *args: object
    ) -> None:
        """:meth:`event` with the message ``message_format % args`` (upstream's Eventf).

        Without ``args`` the format is the message as it stands, "%" and all.
        """
        self.event(obj, event_type, reason, message_format % args if args else message_format)

    async def flush(self) -> None:
        """Wait until every Event recorded so far has been written (or given up on)."""
        await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop; later Events are dropped.

        A write that fails for want of a connection is not retried any more
        once closing: shutting down is not held up by an unreachable server.
        """
        self._closing.set()
        await self.flush()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.wait({self._worker})
            self._worker = None

    # -- making events -------------------------------------------------------

    def _make_event(self, reference: Object, event_type: str, reason: str, message: str) -> Object:
        """A new Event, as upstream's makeEvent plus the recorder's source."""
        event = _new_event(
            reference,
            namespace=reference.get("namespace") or "default",
            event_type=event_type,
            reason=reason,
            message=message,
            source={"component": self.component, "host": self.reporting_instance},
            wall_time=self._wall_clock(),
        )
        event["reportingComponent"] = self.component
        event["reportingInstance"] = self.reporting_instance
        return event

    def _enqueue(self, event: Object) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._drain(), name=f"event recorder {self.component}"
            )
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.error(
                "unable to record event: too many queued events, dropped %s", _describe(event)
            )

    # -- writing events ------------------------------------------------------

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._record(event)
            except Exception:
                log.exception("unable to record event %s", _describe(event))
            finally:
                self._queue.task_done()

    async def _record(self, event: Object) -> None:
        """Correlate ``event``, then write it, retrying while the server is unreachable."""
        correlated = self._correlator.correlate(event)
        if correlated is None:
            log.debug("event %s dropped by the spam filter", _describe(event))
            return
        event, patch = correlated
        tries = 0
        while True:
            tries += 1
            try:
                written = await self._write(event, patch)
            except errors.TransportError as error:
                log.error("unable to write event %s (may retry): %s", _describe(event), error)
            except errors.ApiError as error:
                _log_rejection(event, error)
                return
            else:
                self._correlator.update_state(written)
                return
            # the first wait is random, so that clients cut off together do not return together
            delay = RETRY_SLEEP * (self._random() if tries == 1 else 1.0)
            if tries == MAX_TRIES_PER_EVENT or not await self._pause(delay):
                log.error("unable to write event %s: gave up", _describe(event))
                return

    async def _write(self, event: Object, patch: Object | None) -> Object:
        """PATCH the Event a repeat belongs to (or create it, if it is gone); else create."""
        namespace = event["metadata"]["namespace"]
        if patch is not None:
            try:
                return await self.client.patch(
                    EVENTS,
                    event["metadata"]["name"],
                    patch,
                    patch_type="strategic",
                    namespace=namespace,
                )
            except errors.NotFound:
                pass
        metadata = {k: v for k, v in event["metadata"].items() if k != "resourceVersion"}
        return await self.client.create(
            EVENTS, {**event, "metadata": metadata}, namespace=namespace
        )

    async def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds; False if the recorder began closing first."""
        if self._closing.is_set():
            return False
        sleeper = asyncio.ensure_future(self._sleep(delay))
        closing = asyncio.ensure_future(self._closing.wait())
        done, pending = await asyncio.wait({sleeper, closing}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return sleeper in done and not self._closing.is_set()


def _new_event(
    reference: Object,
    *,
    namespace: str,
    event_type: str,
    reason: str,
    message: str,
    source: Object,
    wall_time: float,
) -> Object:
    """A core/v1 Event seen once, now: named ``<object name>.<unix nanoseconds in hex>``."""
    stamp = timestamp(datetime.fromtimestamp(wall_time, UTC))
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{reference.get('name', '')}.{_unix_nanos(wall_time):x}",
            "namespace": namespace,
        },
        "involvedObject": reference,
        "reason": reason,
        "message": message,
        "source": {key: value for key, value in source.items() if value},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    }


def _unix_nanos(wall_time: float) -> int:
    """``wall_time`` in nanoseconds, without the float rounding of ``wall_time * 1e9``."""
    seconds = math.floor(wall_time)
    return seconds * 1_000_000_000 + round((wall_time - seconds) * 1e9)


class EventCorrelator:
    """Upstream's EventCorrelator: aggregates similar Events, counts repeats, filters spam.

    :meth:`correlate` turns a new Event into what to write: the Event (a
    new one, or a repeat carrying the name of the Event it repeats) and,
    for a repeat, the patch to send; None when the spam filter drops it.
    Every cache is an LRU of :data:`LRU_CACHE_ENTRIES`.
    """

    def __init__(self, *, clock: Clock = time.monotonic, wall_clock: Clock = time.time) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._aggregates: _Lru[tuple[str, ...], _Aggregate] = _Lru(LRU_CACHE_ENTRIES)
        self._observations: _Lru[tuple[str, ...], _Observation] = _Lru(LRU_CACHE_ENTRIES)
        self._spam: _Lru[tuple[str, ...], TokenBucket] = _Lru(LRU_CACHE_ENTRIES)

    def correlate(self, event: Object) -> tuple[Object, Object | None] | None:
        """What to write for ``event``: ``(event, patch or None)``, or None to drop it."""
        event, key = self._aggregate(event)
        event, patch = self._observe(event, key)
        if self._is_spam(event):
            return None
        return event, patch

    def update_state(self, written: Object) -> None:
        """Remember the Event as the server returned it (its name, count, resourceVersion)."""
        self._observations.put(_event_key(written), _Observation.of(written))

    def _aggregate(self, event: Object) -> tuple[Object, tuple[str, ...]]:
        """The event itself and its full key; or, for the 10th distinct message of a
        reason within the interval, the combined Event and the group's key."""
        now = self._clock()
        group = _aggregate_key(event)
        record = self._aggregates.get(group)
        if record is None or now - record.last_seen > AGGREGATE_INTERVAL:
            record = _Aggregate(set(), now)
        record.messages.add(event.get("message", ""))
        record.last_seen = now
        self._aggregates.put(group, record)
        if len(record.messages) < AGGREGATE_MAX_EVENTS:
            return event, _event_key(event)
        record.messages.pop()  # the set never grows past the threshold
        combined = _new_event(
            event["involvedObject"],
            namespace=event["metadata"]["namespace"],
            event_type=event.get("type", ""),
            reason=event.get("reason", ""),
            message=AGGREGATE_MESSAGE_PREFIX + event.get("message", ""),
            source=event.get("source") or {},
            wall_time=self._wall_clock(),
        )
        return combined, group

    def _observe(self, event: Object, key: tuple[str, ...]) -> tuple[Object, Object | None]:
        """Count ``event`` under ``key``; a repeat takes the first Event's name and gets a patch."""
        previous = self._observations.get(key)
        patch = None
        if previous is not None and previous.count > 0:
            metadata = {
                **event["metadata"],
                "name": previous.name,
                "resourceVersion": previous.resource_version,
            }
            event = {
                **event,
                "metadata": metadata,
                "firstTimestamp": previous.first_timestamp,
                "count": previous.count + 1,
            }
            patch = {
                "count": event["count"],
                "lastTimestamp": event["lastTimestamp"],
                "message": event.get("message", ""),
            }
        self._observations.put(key, _Observation.of(event))
        return event, patch

    def _is_spam(self, event: Object) -> bool:
        """Take a token from the source's bucket for the object; True when there was none."""
        key = _spam_key(event)
        bucket = self._spam.get(key) or TokenBucket(SPAM_QPS, SPAM_BURST, clock=self._clock)
        self._spam.put(key, bucket)
        return not bucket.try_take()


@dataclass
class _Aggregate:
    """The distinct messages of one group of similar Events, and when one was last seen."""

    messages: set[str]
    last_seen: float


@dataclass(frozen=True)
class _Observation:
    """What was last written for one Event key."""

    count: int
    first_timestamp: str
    name: str
    resource_version: str

    @classmethod
    def of(cls, event: Object) -> Self:
        metadata = event.get("metadata") or {}
        return cls(
            count=int(event.get("count") or 0),
            first_timestamp=event.get("firstTimestamp") or "",
            name=metadata.get("name") or "",
            resource_version=metadata.get("resourceVersion") or "",
        )


class _Lru(Generic[K, V]):
    """A mapping that forgets its least recently used entry beyond ``size`` entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


def _source_and_object(event: Object) -> tuple[str, ...]:
    source = event.get("source") or {}
    involved = event.get("involvedObject") or {}
    return (
        source.get("component", ""),
        source.get("host", ""),
        involved.get("kind", ""),
        involved.get("namespace", ""),
        involved.get("name", ""),
        involved.get("uid", ""),
        involved.get("apiVersion", ""),
    )


def _event_key(event: Object) -> tuple[str, ...]:
    """What makes two Events identical (upstream's getEventKey)."""
    involved = event.get("involvedObject") or {}
    return (
        *_source_and_object(event),
        involved.get("fieldPath", ""),
        event.get("type", ""),
        event.get("reason", ""),
        event.get("message", ""),
    )


def _aggregate_key(event: Object) -> tuple[str, ...]:
    """What makes two Events similar (upstream's EventAggregatorByReasonFunc)."""
    return (
        *_source_and_object(event),
        event.get("type", ""),
        event.get("reason", ""),
        event.get("reportingComponent", ""),
        event.get("reportingInstance", ""),
    )


def _spam_key(event: Object) -> tuple[str, ...]:
    """Whose budget an Event spends: its source's, for its object (upstream's getSpamKey)."""
    return _source_and_object(event)


def _log_rejection(event: Object, error: errors.ApiError) -> None:
    """A rejected Event is not retried; an expected rejection is not worth an error line."""
    expected = isinstance(error, errors.AlreadyExists) or errors.namespace_terminating(error)
    level = logging.DEBUG if expected else logging.ERROR
    log.log(level, "server rejected event %s (will not retry): %s", _describe(event), error)


def _describe(event: Object) -> str:
    involved = event.get("involvedObject") or {}
    return (
        f"{involved.get('kind', '')} {involved.get('namespace', '')}/{involved.get('name', '')}"
        f" {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '')}"
    )
