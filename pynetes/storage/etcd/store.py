"""EtcdStore: the Store contract on an etcd v3 cluster, spoken to over gRPC.

The contract's semantics are etcd's own, so most operations are one etcd
request, built the way kube-apiserver's etcd3 store builds them:

* create is a transaction ``create_revision(key) == 0 -> put``; update and
  delete compare ``create_revision > 0`` (the key exists) and, when guarded,
  ``mod_revision == expected``, reading the key in the else branch to tell
  KeyNotFoundError from ConflictError. A delete returns the last value with
  the transaction's revision, the revision of the deletion.
* list is one Range with ``limit`` and ``count``; every page after the first
  is read at the first page's revision, carried in the continue token.
* watch is one etcd watch stream per call, with ``prev_kv``, starting at
  ``after_revision + 1``. (aetcd's Watcher multiplexes every watch on one
  stream and ends them all when it breaks; a stream per watch is cancelled
  on its own when its generator closes and resumes on its own elsewhere.)

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
  or deadline: repeating them changes nothing;
* writes only when they cannot have been applied: the channel was not
  connected (a write is sent only on a connected channel, so no bytes left),
  gRPC could not connect, or etcd refused before proposing ("no leader",
  "too many requests"). A write that fails after it may have reached a
  server (connection reset, "request timed out", deadline) is NOT retried:
  it may have been committed, and repeating it could report a successful
  create as KeyExistsError or a guarded update as a conflict. It raises
  UnavailableError saying the outcome is unknown; the caller decides, as a
  Kubernetes client does on a 504.

Watches survive a member's death: the stream is re-created on another
endpoint from the revision after the last event delivered, so events are
still each delivered once, in order; a gap that compaction has removed
meanwhile raises CompactedError.

Compacted revision. etcd has no request that returns its compacted revision,
and kube-apiserver's answer (a ``compact_rev_key`` it writes before each
compaction) costs a revision per compaction and puts a key in the user's
keyspace. This store asks etcd instead: a read at revision 1 fails only when
history has been compacted, and then a watch from revision 1 is answered by
etcd with the exact compacted revision. This is read-only, exact, and agrees
across several API servers and with etcd's own ``--auto-compaction``.

TTLs are etcd leases, in whole seconds rounded up (etcd itself raises a TTL
below its minimum, 2 s with default timings). Leases are shared as
kube-apiserver's lease manager shares them: a lease granted for a TTL serves
new keys with the same TTL for ``min(60 s, 5 % of the TTL)`` after its grant,
and is granted that much longer, so thousands of Events make a handful of
leases. An entry thus lives between its TTL and its TTL plus that window.

Differences from SQLiteStore that come from etcd: a new etcd cluster is at
revision 1 (not 0), so the first write gets revision 2; TTL expiry is done by
etcd's lessor, within about half a second of the lease running out. etcd
counts the key and the request's encoding against ``--max-request-bytes``
(default exactly MAX_VALUE_BYTES): EtcdCluster raises it by 64 KiB so every
value up to MAX_VALUE_BYTES fits; an etcd started otherwise refuses values
just under the limit, which then raise ValueTooLargeError too.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import grpc
from aetcd import rpc

from pynetes.storage import continuation
from pynetes.storage.compaction import DEFAULT_WINDOW_SECONDS, Compactor
from pynetes.storage.errors import (
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StorageError,
    UnavailableError,
    ValueTooLargeError,
)
from pynetes.storage.interface import (
    MAX_VALUE_BYTES,
    EventType,
    KeyValue,
    ListPage,
    Store,
    WatchEvent,
    check_write,
    prefix_end,
)

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
#: A key no caller uses: revision probes read it (count only) to learn revisions.
_PROBE_KEY = b"\x00"

_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_TOO_LARGE = "request is too large"
#: gRPC's own refusal of a message over a size limit.
_MESSAGE_TOO_LARGE = "message larger than max"
_LEASE_NOT_FOUND = "requested lease not found"
#: etcd refusals made before a request is proposed to raft: safe to repeat a write.
_REFUSED_BEFORE_PROPOSAL = ("etcdserver: no leader", "etcdserver: not capable")
_TOO_MANY_REQUESTS = "etcdserver: too many requests"
#: gRPC's words for "no connection was made": the request never left the client.
_NOT_CONNECTED = ("failed to connect to all addresses", "no connection available")

#: kube-apiserver's lease manager: how long, at most, a granted lease is reused.
LEASE_REUSE_SECONDS = 60
LEASE_REUSE_FRACTION = 0.05
#: ... and for how many keys at most.
LEASE_MAX_ATTACHED = 1000


def _encode(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def _decode(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def _key_value(kv: rpc.KeyValue) -> KeyValue:
    return KeyValue(_decode(kv.key), kv.value, kv.create_revision, kv.mod_revision)


# -- connections and the retry policy ----------------------------------------


class _Verdict(enum.Enum):
    RETRY = "retry"  # safe to repeat, on another endpoint
    UNKNOWN = "unknown"  # a write that may have been applied: do not repeat
    FAIL = "fail"  # etcd's answer: the caller maps it


def _classify(error: grpc.aio.AioRpcError, *, idempotent: bool) -> _Verdict:
    """What a failed attempt means for the operation (see the module docstring)."""
    code, details = error.code(), error.details() or ""
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and details == _TOO_MANY_REQUESTS:
        return _Verdict.RETRY
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


# -- leases -------------------------------------------------------------------


def ttl_seconds(ttl: float) -> int:
    """A TTL as etcd takes it: whole seconds, rounded up, at least one."""
    return max(1, math.ceil(ttl))


def lease_reuse_seconds(ttl: int) -> int:
    """How long after its grant a lease for ``ttl`` serves new keys (kube-apiserver's rule)."""
    return min(LEASE_REUSE_SECONDS, int(LEASE_REUSE_FRACTION * ttl))


@dataclass(slots=True)
class _Lease:
    id: int
    reusable_until: float
    attached: int


class LeaseManager:
    """Hands out lease IDs for TTLs, sharing one lease between keys created close together.

    ``grant(seconds)`` asks etcd for a lease and returns its ID. One lease per
    TTL is cached; a lock per TTL makes concurrent creates wait for a single
    grant instead of each granting its own.
    """

    def __init__(
        self,
        grant: Callable[[int], Awaitable[int]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._grant = grant
        self._clock = clock
        self._cached: dict[int, _Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def lease_for(self, ttl: float) -> int:
        """A lease that outlives ``ttl`` (rounded up) by at most the reuse window."""
        seconds = ttl_seconds(ttl)
        async with self._locks.setdefault(seconds, asyncio.Lock()):
            now = self._clock()
            cached = self._cached.get(seconds)
            if cached and now < cached.reusable_until and cached.attached < LEASE_MAX_ATTACHED:
                cached.attached += 1
                return cached.id
            reuse = lease_reuse_seconds(seconds)
            lease_id = await self._grant(seconds + reuse)
            self._forget_stale(now)
            self._cached[seconds] = _Lease(lease_id, now + reuse, 1)
            return lease_id

    def forget(self, lease_id: int) -> None:
        """Stop handing out ``lease_id`` (etcd no longer has it)."""
        for seconds, lease in list(self._cached.items()):
            if lease.id == lease_id:
                del self._cached[seconds]

    def _forget_stale(self, now: float) -> None:
        """Drop leases past their reuse window, and the locks of TTLs nobody waits for."""
        for seconds, lease in list(self._cached.items()):
            if now >= lease.reusable_until:
                del self._cached[seconds]
        for seconds, lock in list(self._locks.items()):
            if seconds not in self._cached and not lock.locked():
                del self._locks[seconds]


# -- watch --------------------------------------------------------------------


def _watch_event(event: rpc.Event) -> WatchEvent:
    kv = _key_value(event.kv)
    prev = _key_value(event.prev_kv) if event.HasField("prev_kv") else None
    if event.type == rpc.Event.DELETE:
        created = prev.create_revision if prev else 0
        return WatchEvent(EventType.DELETED, KeyValue(kv.key, b"", created, kv.mod_revision), prev)
    if kv.create_revision == kv.mod_revision:
        return WatchEvent(EventType.CREATED, kv, None)
    return WatchEvent(EventType.UPDATED, kv, prev)


class _WatchStream:
    """One etcd watch, re-created on another endpoint when its stream breaks.

    It resumes from the revision after the last event it returned, so no
    event is lost or repeated. A stream that keeps breaking for longer than
    the retry timeout raises UnavailableError.
    """

    def __init__(self, cluster: _Cluster, key: bytes, end: bytes, after_revision: int) -> None:
        self._cluster = cluster
        self._key = key
        self._end = end
        self._next_revision = after_revision + 1
        self._call: grpc.aio.StreamStreamCall | None = None
        self._member: _Member | None = None
        self._broken_since: float | None = None
        self._backoff = _Backoff()

    async def next_events(self) -> list[WatchEvent] | None:
        """The events of the next response that has any; None once the store closed."""
        while not self._cluster.closed:
            try:
                response = await self._next_response()
            except UnavailableError:
                if self._cluster.closed:
                    return None
                raise
            if response is None:
                continue
            self._broken_since = None
            if response.compact_revision:
                raise CompactedError(self._next_revision - 1, response.compact_revision)
            if response.canceled:
                raise StorageError(f"etcd cancelled the watch: {response.cancel_reason}")
            events = [_watch_event(event) for event in response.events]
            if events:
                self._next_revision = events[-1].revision + 1
                self._backoff = _Backoff()
                return events
        return None

    async def _next_response(self) -> rpc.WatchResponse | None:
        """The next response, or None after a broken stream was dropped (to re-create)."""
        if self._call is None:
            self._call, first = await self._cluster.call("watch", self._open, idempotent=True)
            return first
        try:
            response = await self._call.read()
        except asyncio.CancelledError:
            if _cancelled_by_close(self._cluster):
                return None
            raise
        except grpc.aio.AioRpcError as error:
            if self._cluster.closed:
                return None
            if _classify(error, idempotent=True) is _Verdict.FAIL:
                raise StorageError(f"etcd watch failed: {error.details()}") from None
            await self._broken(f"{error.code().name}: {error.details()}")
            return None
        if response is grpc.aio.EOF:
            await self._broken("the server ended the stream")
            return None
        return response

    async def _open(
        self, member: _Member, seconds: float
    ) -> tuple[grpc.aio.StreamStreamCall, rpc.WatchResponse]:
        create = rpc.WatchCreateRequest(
            key=self._key,
            range_end=self._end,
            start_revision=self._next_revision,
            prev_kv=True,
        )
        call = member.watch.Watch(metadata=_METADATA)
        try:
            async with asyncio.timeout(seconds):
                await call.write(rpc.WatchRequest(create_request=create))
                first = await call.read()
        except BaseException:
            call.cancel()
            raise
        if first is grpc.aio.EOF:
            raise _Retry(f"{member.endpoint} ended the watch stream at once")
        self._member = member
        return call, first

    async def _broken(self, reason: str) -> None:
        """Drop the stream; raise UnavailableError if it has been broken too long."""
        self.cancel()
        if self._member is not None:
            self._cluster.rotate(self._member)
        now = time.monotonic()
        if self._broken_since is None:
            self._broken_since = now
        elapsed = now - self._broken_since
        if elapsed >= self._cluster.retry_timeout:
            raise self._cluster.unavailable("watch", elapsed, reason)
        await self._backoff.sleep(self._cluster.retry_timeout - elapsed)

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None


# -- the store ----------------------------------------------------------------


class EtcdStore(Store):
    """A Store on an etcd v3 cluster. Create it with :meth:`open`; see the module docstring."""

    def __init__(self, cluster: _Cluster) -> None:
        self._cluster = cluster
        self._leases = LeaseManager(self._grant_lease)
        self._compacted_floor = 0
        self._background: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        endpoints: list[str],
        *,
        compaction_window: float | None = DEFAULT_WINDOW_SECONDS,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> EtcdStore:
        """Connect to the etcd cluster at ``endpoints`` (``http://host:port`` URLs).

        Makes one read to check that etcd answers: raises UnavailableError if
        no endpoint does within ``retry_timeout`` seconds. ``compaction_window``
        None runs no background compactor (tests call :meth:`compact`).
        ``request_timeout`` bounds one attempt of one request (raise it for
        very large unpaginated lists).
        """
        if not endpoints:
            raise ValueError("EtcdStore needs at least one endpoint")
        cluster = _Cluster(endpoints, retry_timeout=retry_timeout, request_timeout=request_timeout)
        store = cls(cluster)
        try:
            await store.current_revision()
        except BaseException:
            await cluster.close()
            raise
        if compaction_window is not None:
            compactor = Compactor(store, window=compaction_window)
            store._background.append(asyncio.create_task(compactor.run()))
        return store

    @property
    def endpoints(self) -> list[str]:
        return list(self._cluster.endpoints)

    @property
    def current_endpoint(self) -> str:
        """The endpoint requests go to now (it changes when that member fails)."""
        return self._cluster.current.endpoint

    # -- writes ---------------------------------------------------------------

    async def create(self, key: str, value: bytes, *, ttl: float | None = None) -> KeyValue:
        check_write(key, value)
        raw = _encode(key)
        exists = rpc.Compare(
            key=raw,
            target=rpc.Compare.CREATE,
            result=rpc.Compare.EQUAL,
            create_revision=0,
        )
        response = await self._put_txn(key, value, ttl, compare=[exists], failure=[])
        if not response.succeeded:
            raise KeyExistsError(key)
        revision = response.header.revision
        return KeyValue(key, value, revision, revision)

    async def update(
        self,
        key: str,
        value: bytes,
        *,
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> KeyValue:
        check_write(key, value)
        raw = _encode(key)
        response = await self._put_txn(
            key,
            value,
            ttl,
            compare=_guard(raw, expected_revision),
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        if not response.succeeded:
            raise _guard_error(key, expected_revision, response)
        prev = response.responses[0].response_put.prev_kv
        return KeyValue(key, value, prev.create_revision, response.header.revision)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        check_write(key, b"")
        raw = _encode(key)
        request = rpc.TxnRequest(
            compare=_guard(raw, expected_revision),
            success=[
                rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        response = await self._txn(key, request)
        if not response.succeeded:
            raise _guard_error(key, expected_revision, response)
        prev = response.responses[0].response_delete_range.prev_kvs[0]
        return KeyValue(key, prev.value, prev.create_revision, response.header.revision)

    async def _put_txn(
        self,
        key: str,
        value: bytes,
        ttl: float | None,
        *,
        compare: list[rpc.Compare],
        failure: list[rpc.RequestOp],
    ) -> rpc.TxnResponse:
        """``if compare: put(key, value, lease for ttl) else: failure``.

        A lease that etcd no longer knows (revoked, or expired early) is
        dropped from the cache and the write made once more with a new one:
        the refused transaction changed nothing.
        """
        retried = False
        while True:
            lease = 0 if ttl is None else await self._leases.lease_for(ttl)
            put = rpc.PutRequest(key=_encode(key), value=value, lease=lease, prev_kv=True)
            request = rpc.TxnRequest(
                compare=compare, success=[rpc.RequestOp(request_put=put)], failure=failure
            )
            try:
                return await self._txn(key, request, value_size=len(value))
            except _LeaseNotFound:
                self._leases.forget(lease)
                if retried:
                    raise StorageError(f"etcd lost lease {lease:x} twice writing {key}") from None
                retried = True

    async def _txn(
        self, key: str, request: rpc.TxnRequest, *, value_size: int = 0
    ) -> rpc.TxnResponse:
        try:
            return await self._cluster.call(
                f"write of {key}",
                lambda member, timeout: member.kv.Txn(request, timeout=timeout, metadata=_METADATA),
                idempotent=False,
            )
        except grpc.aio.AioRpcError as error:
            details = error.details() or ""
            if _TOO_LARGE in details or _MESSAGE_TOO_LARGE in details:
                raise ValueTooLargeError(key, value_size, MAX_VALUE_BYTES) from None
            if _LEASE_NOT_FOUND in details:
                raise _LeaseNotFound from None
            raise _rpc_error(f"write of {key}", error) from None

    async def _grant_lease(self, seconds: int) -> int:
        request = rpc.LeaseGrantRequest(TTL=seconds)
        try:
            response = await self._cluster.call(
                "lease grant",
                lambda member, timeout: member.lease.LeaseGrant(
                    request, timeout=timeout, metadata=_METADATA
                ),
                idempotent=True,  # a repeated grant leaves at worst an unused lease to expire
            )
        except grpc.aio.AioRpcError as error:
            raise _rpc_error("lease grant", error) from None
        if response.error:
            raise StorageError(f"etcd refused a lease of {seconds}s: {response.error}")
        return int(response.ID)

    # -- reads ----------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        self._check_open()
        response = await self._range(rpc.RangeRequest(key=_encode(key)))
        return _key_value(response.kvs[0]) if response.kvs else None

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int | None = None,
    ) -> ListPage:
        self._check_open()
        end = prefix_end(prefix)
        start = prefix
        if continue_token is not None:
            revision, start = continuation.decode(continue_token, prefix=prefix)
        request = rpc.RangeRequest(
            key=_encode(start), range_end=_encode(end), limit=limit, revision=revision or 0
        )
        response = await self._range(request)
        items = [_key_value(kv) for kv in response.kvs]
        read_at = revision or response.header.revision
        if not response.more or not items:
            return ListPage(items, read_at, None, None)
        token = continuation.encode(revision=read_at, next_key=items[-1].key + "\0", prefix=prefix)
        return ListPage(items, read_at, token, response.count - len(items))

    async def current_revision(self) -> int:
        self._check_open()
        response = await self._range(rpc.RangeRequest(key=_PROBE_KEY, count_only=True))
        return int(response.header.revision)

    async def _range(self, request: rpc.RangeRequest) -> rpc.RangeResponse:
        """A linearizable Range; compaction and future revisions mapped to their errors."""
        try:
            return await self._cluster.call(
                "read",
                lambda member, timeout: member.kv.Range(
                    request, timeout=timeout, metadata=_METADATA
                ),
                idempotent=True,
            )
        except grpc.aio.AioRpcError as error:
            details = error.details() or ""
            if _COMPACTED in details:
                raise CompactedError(request.revision, await self.compacted_revision()) from None
            if _FUTURE in details:
                raise FutureRevisionError(request.revision, await self.current_revision()) from None
            raise _rpc_error("read", error) from None

    # -- watch ----------------------------------------------------------------

    async def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        self._check_open()
        end = prefix_end(prefix)
        stream = _WatchStream(self._cluster, _encode(prefix), _encode(end), after_revision)
        try:
            await self._check_watchable(after_revision)
            while (events := await stream.next_events()) is not None:
                for event in events:
                    yield event
        except StorageError:
            if self._cluster.closed:
                return  # closing the store ends its watches
            raise
        finally:
            stream.cancel()

    async def _check_watchable(self, after_revision: int) -> None:
        """Raise CompactedError unless history after ``after_revision`` is all there.

        etcd itself accepts a watch from the compacted revision, one earlier
        than the contract allows, so the bound is checked with a read at
        ``after_revision``, which etcd refuses exactly when it is compacted.
        """
        if after_revision <= 0:
            compacted = await self.compacted_revision()
            if after_revision < compacted:
                raise CompactedError(after_revision, compacted)
            return
        # A future revision is fine: etcd waits for it, as a watch of the future should.
        with contextlib.suppress(FutureRevisionError):
            await self._range(
                rpc.RangeRequest(key=_PROBE_KEY, count_only=True, revision=after_revision)
            )

    # -- history --------------------------------------------------------------

    async def compacted_revision(self) -> int:
        """etcd's compacted revision (0 if it never compacted), learnt without a write.

        A count-only read at revision 1 succeeds unless history is compacted;
        if it is, a watch from revision 1 is cancelled by etcd with the
        compacted revision in its response.
        """
        self._check_open()
        try:
            await self._cluster.call("read", self._read_revision_one, idempotent=True)
        except _Compacted:
            probed = await self._cluster.call(
                "compaction probe", self._watch_compacted, idempotent=True
            )
            self._compacted_floor = max(self._compacted_floor, probed)
        except grpc.aio.AioRpcError as error:
            raise _rpc_error("read", error) from None
        return self._compacted_floor

    @staticmethod
    async def _read_revision_one(member: _Member, seconds: float) -> None:
        request = rpc.RangeRequest(key=_PROBE_KEY, count_only=True, revision=1)
        try:
            await member.kv.Range(request, timeout=seconds, metadata=_METADATA)
        except grpc.aio.AioRpcError as error:
            if _COMPACTED in (error.details() or ""):
                raise _Compacted from None
            raise

    @staticmethod
    async def _watch_compacted(member: _Member, seconds: float) -> int:
        """The compacted revision etcd reports to a watch from revision 1."""
        create = rpc.WatchCreateRequest(key=_PROBE_KEY, start_revision=1)
        call = member.watch.Watch(metadata=_METADATA)
        try:
            async with asyncio.timeout(seconds):
                await call.write(rpc.WatchRequest(create_request=create))
                while (response := await call.read()) is not grpc.aio.EOF:
                    if response.compact_revision:
                        return int(response.compact_revision)
        finally:
            call.cancel()
        raise _Retry(f"{member.endpoint} ended the compaction probe without an answer")

    async def compact(self, revision: int) -> None:
        """Compact etcd's history before ``revision`` (capped at the current revision).

        A revision at or below the compacted one is a no-op, as etcd's
        "already compacted" answer is taken for success.
        """
        self._check_open()
        revision = min(revision, await self.current_revision())
        if revision <= self._compacted_floor:
            return
        request = rpc.CompactionRequest(revision=revision)
        try:
            await self._cluster.call(
                "compaction",
                lambda member, timeout: member.kv.Compact(
                    request, timeout=timeout, metadata=_METADATA
                ),
                idempotent=True,
            )
        except grpc.aio.AioRpcError as error:
            if _COMPACTED not in (error.details() or ""):
                raise _rpc_error("compaction", error) from None
        self._compacted_floor = max(self._compacted_floor, revision)

    # -- life cycle -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._cluster.closed:
            raise StorageError(f"the etcd store at {', '.join(self._cluster.endpoints)} is closed")

    async def close(self) -> None:
        if self._cluster.closed:
            return
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._cluster.close()


class _LeaseNotFound(Exception):
    """etcd refused a put: its lease is gone."""


class _Compacted(Exception):
    """A probe read at a revision that has been compacted."""


def _guard(key: bytes, expected_revision: int | None) -> list[rpc.Compare]:
    """Comparisons of an update or delete: the key exists and, if given, is at that revision."""
    exists = rpc.Compare(
        key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER, create_revision=0
    )
    if expected_revision is None:
        return [exists]
    at_revision = rpc.Compare(
        key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=expected_revision
    )
    return [exists, at_revision]


def _guard_error(key: str, expected: int | None, response: rpc.TxnResponse) -> StorageError:
    """Why a guarded transaction failed, from the key read in its else branch."""
    found = response.responses[0].response_range.kvs
    if not found:
        return KeyNotFoundError(key)
    return ConflictError(key, expected=expected, actual=found[0].mod_revision)


def _rpc_error(what: str, error: grpc.aio.AioRpcError) -> StorageError:
    return StorageError(f"etcd {what} failed: {error.code().name}: {error.details()}")
