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
* watch shares one etcd watch stream, with ``prev_kv``, between all the
  watchers of a prefix, and fans its events out in process; a watcher that
  starts further back catches up with an etcd watch of its own from
  ``after_revision + 1`` first (the ``watch`` module explains how). (aetcd's
  Watcher multiplexes every watch on one stream and ends them all when it
  breaks; a stream per prefix is cancelled on its own when its last watcher
  leaves and resumes on its own elsewhere.)

The modules of this package: ``cluster`` holds the connections to the
members and the retry policy, ``leases`` the lease manager, ``watch`` the
watch streams, ``codec`` the conversions of etcd's messages.

Compacted revision. etcd has no request that returns its compacted revision,
and kube-apiserver's answer (a ``compact_rev_key`` it writes before each
compaction) costs a revision per compaction and puts a key in the user's
keyspace. This store asks etcd instead: a read at revision 1 fails only when
history has been compacted, and then a watch from revision 1 is answered by
etcd with the exact compacted revision. This is read-only, exact, and agrees
across several API servers and with etcd's own ``--auto-compaction``.

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
from collections.abc import AsyncIterator

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
    ValueTooLargeError,
)
from pynetes.storage.etcd.cluster import (
    _METADATA,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_TIMEOUT,
    _Cluster,
    _Member,
    _Retry,
)
from pynetes.storage.etcd.codec import _encode, _key_value
from pynetes.storage.etcd.leases import LeaseManager
from pynetes.storage.etcd.watch import _Watches
from pynetes.storage.fanout import DEFAULT_MAX_PENDING
from pynetes.storage.interface import (
    MAX_VALUE_BYTES,
    KeyValue,
    ListPage,
    Store,
    WatchEvent,
    check_write,
    prefix_end,
)

#: A key no caller uses: revision probes read it (count only) to learn revisions.
_PROBE_KEY = b"\x00"

_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_TOO_LARGE = "request is too large"
#: gRPC's own refusal of a message over a size limit.
_MESSAGE_TOO_LARGE = "message larger than max"
_LEASE_NOT_FOUND = "requested lease not found"


class EtcdStore(Store):
    """A Store on an etcd v3 cluster. Create it with :meth:`open`; see the module docstring."""

    shared = True

    def __init__(self, cluster: _Cluster, *, max_pending_events: int = DEFAULT_MAX_PENDING) -> None:
        self._cluster = cluster
        self._leases = LeaseManager(self._grant_lease)
        self._compacted_floor = 0
        self._background: list[asyncio.Task[None]] = []
        self._watches = _Watches(
            cluster,
            check_open=self._check_open,
            check=self._check_watchable,
            max_pending=max_pending_events,
        )

    @classmethod
    async def open(
        cls,
        endpoints: list[str],
        *,
        compaction_window: float | None = DEFAULT_WINDOW_SECONDS,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_pending_events: int = DEFAULT_MAX_PENDING,
    ) -> EtcdStore:
        """Connect to the etcd cluster at ``endpoints`` (``http://host:port`` URLs).

        Makes one read to check that etcd answers: raises UnavailableError if
        no endpoint does within ``retry_timeout`` seconds. ``compaction_window``
        None runs no background compactor (tests call :meth:`compact`).
        ``request_timeout`` bounds one attempt of one request (raise it for
        very large unpaginated lists). ``max_pending_events`` bounds the events
        a watcher may leave unread before it catches up from etcd instead.
        """
        if not endpoints:
            raise ValueError("EtcdStore needs at least one endpoint")
        cluster = _Cluster(endpoints, retry_timeout=retry_timeout, request_timeout=request_timeout)
        store = cls(cluster, max_pending_events=max_pending_events)
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

    def watch(self, prefix: str, *, after_revision: int) -> AsyncIterator[WatchEvent]:
        return self._watches.watch(prefix, after_revision)

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
        await self._watches.close()
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
