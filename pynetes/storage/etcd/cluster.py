"""Connections to the members of an etcd cluster, and the retry policy of every request.

aetcd provides the generated gRPC stubs and messages (``aetcd.rpc``); its
Client is not used, since it connects to one ``host:port`` only.

Connections (several endpoints). Each endpoint gets its own gRPC channel; all
requests go to one current endpoint and move on to the next when it fails.
A single channel over every address (``ipv4:a,b,c`` with pick_first) would
follow a dead member too, but not a live member that has lost its leader or
hangs, and it only takes IP literals; rotating between per-endpoint channels
covers all three, the way etcd's own clientv3 switches endpoints. Requests
carry etcd's ``hasleader`` metadata, so a member cut off from its cluster
refuses them at once ("no leader") instead of timing out.

Retries. Every operation has ``retry_timeout`` seconds: failures worth
retrying are retried on the next endpoint, with exponential backoff after
every endpoint has failed once, and when the time is up the operation raises
UnavailableError naming the endpoints. Nothing waits without a deadline:
each attempt is bounded by ``request_timeout`` (and by the time left), and
watch streams rely on gRPC keepalive to notice a dead peer. What is retried:

* reads, lease grants, compaction and watch (re)creation, on any UNAVAILABLE
  (or gRPC core's own INTERNAL for a transport that died mid-call) or
  deadline: repeating them changes nothing;
* writes only when they cannot have been applied: the channel was not
  connected (a write is sent only on a connected channel, so no bytes left),
  gRPC could not connect, or etcd refused before proposing ("no leader",
  "too many requests"). A write that fails after it may have reached a
  server (connection reset, "request timed out", deadline) is NOT retried:
  it may have been committed, and repeating it could report a successful
  create as KeyExistsError or a guarded update as a conflict. It raises
  UnavailableError saying the outcome is unknown; the caller decides, as a
  Kubernetes client does on a 504.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import grpc
from aetcd import rpc

from pynetes.storage.errors import UnavailableError

T = TypeVar("T")

DEFAULT_RETRY_TIMEOUT = 30.0
#: Longest a single attempt of a request may take before the next endpoint is tried.
DEFAULT_REQUEST_TIMEOUT = 10.0
INITIAL_BACKOFF = 0.05
MAX_BACKOFF = 2.0
#: etcd's require-leader metadata: a member without a leader refuses at once.
_METADATA = (("hasleader", "true"),)
_CHANNEL_OPTIONS = (
    # etcd answers with up to max-request-bytes per value; a list holds many.
    ("grpc.max_receive_message_length", 2**31 - 1),
    # Reconnect to a restarted member within a second, not gRPC's default two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # Notice a dead peer under a silent watch stream (etcd allows pings every 5 s).
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)
#: etcd refusals made before a request is proposed to raft: safe to repeat a write.
_REFUSED_BEFORE_PROPOSAL = ("etcdserver: no leader", "etcdserver: not capable")
_TOO_MANY_REQUESTS = "etcdserver: too many requests"
#: gRPC's words for "no connection was made": the request never left the client.
_NOT_CONNECTED = ("failed to connect to all addresses", "no connection available")
#: What gRPC core says when a stream's transport died under a write: the client's
#: own failure (etcd's INTERNAL answers carry etcd's words), so as good as UNAVAILABLE.
_TRANSPORT_FAILED = "Internal error from Core"


class _Verdict(enum.Enum):
    RETRY = "retry"  # safe to repeat, on another endpoint
    UNKNOWN = "unknown"  # a write that may have been applied: do not repeat
    FAIL = "fail"  # etcd's answer: the caller maps it


def _classify(error: grpc.aio.AioRpcError, *, idempotent: bool) -> _Verdict:
    """What a failed attempt means for the operation (see the module docstring)."""
    code, details = error.code(), error.details() or ""
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and details == _TOO_MANY_REQUESTS:
        return _Verdict.RETRY
    if code is grpc.StatusCode.INTERNAL and details == _TRANSPORT_FAILED:
        code = grpc.StatusCode.UNAVAILABLE
    if code is grpc.StatusCode.UNAVAILABLE:
        if idempotent or details in _REFUSED_BEFORE_PROPOSAL:
            return _Verdict.RETRY
        if details.startswith(_NOT_CONNECTED):
            return _Verdict.RETRY
        return _Verdict.UNKNOWN
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return _Verdict.RETRY if idempotent else _Verdict.UNKNOWN
    return _Verdict.FAIL


def _cancelled_by_close(cluster: _Cluster) -> bool:
    """Whether a CancelledError came from closing the store, not from cancelling the task.

    grpc.aio raises CancelledError in calls that ``channel.close()`` cancels;
    the caller's task was not cancelled, so it must not see one.
    """
    task = asyncio.current_task()
    return cluster.closed and (task is None or not task.cancelling())


class _Retry(Exception):
    """Raised by an attempt to have it repeated on the next endpoint."""


def _target(endpoint: str) -> str:
    """The gRPC target (``host:port``) of an endpoint URL like ``http://127.0.0.1:2379``."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if parts.scheme != "http":
        raise ValueError(f"etcd endpoint {endpoint!r}: only http:// endpoints are supported")
    if not parts.hostname or parts.port is None:
        raise ValueError(f"etcd endpoint {endpoint!r} needs a host and a port")
    return parts.netloc


class _Member:
    """One endpoint: its channel and the stubs on it."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.channel = grpc.aio.insecure_channel(_target(endpoint), options=_CHANNEL_OPTIONS)
        self.kv = rpc.KVStub(self.channel)
        self.lease = rpc.LeaseStub(self.channel)
        self.watch = rpc.WatchStub(self.channel)

    async def connected(self, within: float) -> bool:
        """Wait until the channel is connected; False if it fails or ``within`` seconds pass.

        A failed connection (TRANSIENT_FAILURE) answers False at once, so a
        dead member costs no time; gRPC keeps reconnecting it in the background.
        """
        ready = grpc.ChannelConnectivity.READY
        failed = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
        state = self.channel.get_state(try_to_connect=True)
        deadline = time.monotonic() + within
        while state is not ready:
            remaining = deadline - time.monotonic()
            if state in failed or remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self.channel.wait_for_state_change(state), remaining)
            except TimeoutError:
                return False
            state = self.channel.get_state(try_to_connect=True)
        return True


Attempt = Callable[[_Member, float], Awaitable[T]]


class _Cluster:
    """The endpoints, the current one, and :meth:`call`, which applies the retry policy."""

    def __init__(
        self, endpoints: list[str], *, retry_timeout: float, request_timeout: float
    ) -> None:
        self.endpoints = list(endpoints)
        self.retry_timeout = retry_timeout
        self.request_timeout = request_timeout
        self._members = [_Member(endpoint) for endpoint in endpoints]
        self._current = 0
        self.closed = False

    @property
    def current(self) -> _Member:
        return self._members[self._current]

    def rotate(self, failed: _Member) -> None:
        """Move on from ``failed`` (unless a concurrent failure already did)."""
        if self._members[self._current] is failed:
            self._current = (self._current + 1) % len(self._members)

    async def call(self, what: str, attempt: Attempt[T], *, idempotent: bool) -> T:
        """Run ``attempt(member, timeout)`` until it succeeds, fails for good, or time is up.

        Raises the attempt's AioRpcError when etcd answered with an error the
        caller must map, UnavailableError when ``retry_timeout`` passed or a
        write's outcome is unknown. ``idempotent`` says whether repeating the
        attempt after it reached a server is harmless.
        """
        started = time.monotonic()
        deadline = started + self.retry_timeout
        backoff = _Backoff()
        failures = 0
        last_error = "no attempt made"
        while True:
            if self.closed or time.monotonic() >= deadline:
                raise self.unavailable(what, time.monotonic() - started, last_error)
            member = self.current
            try:
                return await self._attempt(what, member, attempt, deadline, idempotent=idempotent)
            except _Retry as error:
                last_error = str(error)
            self.rotate(member)
            failures += 1
            if failures % len(self._members) == 0:
                await backoff.sleep(deadline - time.monotonic())

    async def _attempt(
        self, what: str, member: _Member, attempt: Attempt[T], deadline: float, *, idempotent: bool
    ) -> T:
        """One attempt on ``member``; raises _Retry when another one may follow."""
        if not await member.connected(min(self.request_timeout, deadline - time.monotonic())):
            raise _Retry(f"{member.endpoint}: cannot connect")
        timeout = max(min(self.request_timeout, deadline - time.monotonic()), 0.001)
        try:
            return await attempt(member, timeout)
        except asyncio.CancelledError:
            if _cancelled_by_close(self):
                raise self.unavailable(what, 0.0, "closed") from None
            raise
        except TimeoutError:
            verdict = _Verdict.RETRY if idempotent else _Verdict.UNKNOWN
            failure = f"no answer in {timeout:.1f}s"
        except grpc.aio.AioRpcError as error:
            verdict = _classify(error, idempotent=idempotent)
            if verdict is _Verdict.FAIL:
                raise
            failure = f"{error.code().name}: {error.details()}"
        if verdict is _Verdict.UNKNOWN:
            self.rotate(member)
            raise self.outcome_unknown(what, member, failure)
        raise _Retry(f"{member.endpoint}: {failure}")

    def unavailable(self, what: str, elapsed: float, last_error: str) -> UnavailableError:
        if self.closed:
            return UnavailableError(f"etcd {what}: the store is closed")
        return UnavailableError(
            f"etcd {what}: no etcd member answered in {elapsed:.1f}s "
            f"(retry timeout {self.retry_timeout:g}s) at {', '.join(self.endpoints)}; "
            f"last error: {last_error}"
        )

    @staticmethod
    def outcome_unknown(what: str, member: _Member, failure: str) -> UnavailableError:
        return UnavailableError(
            f"etcd {what}: {member.endpoint} failed after the write may have reached it "
            f"({failure}); it was not retried and may or may not have been applied"
        )

    async def close(self) -> None:
        self.closed = True
        await asyncio.gather(*(member.channel.close() for member in self._members))


class _Backoff:
    """Exponential backoff with jitter, from INITIAL_BACKOFF up to MAX_BACKOFF."""

    def __init__(self) -> None:
        self._delay = INITIAL_BACKOFF

    async def sleep(self, at_most: float) -> None:
        delay = min(self._delay * random.uniform(0.5, 1.0), at_most)
        self._delay = min(self._delay * 2, MAX_BACKOFF)
        if delay > 0:
            await asyncio.sleep(delay)
