"""What only the etcd backend has: real etcd processes, failover, leases, the retry policy.

The shared contract (tests/storage/test_store_contract.py) covers the Store
semantics; these tests cover how EtcdStore behaves when etcd fails, how it
uses etcd's leases and compaction, and the EtcdCluster launcher. Tests that
need etcd skip without it, except in CI (CI=true) where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from aetcd import rpc

from pynetes.storage import (
    MAX_VALUE_BYTES,
    CompactedError,
    EventType,
    KeyExistsError,
    UnavailableError,
    WatchEvent,
)
from pynetes.storage.etcd import EtcdStore
from pynetes.storage.etcd.cluster import _classify, _Verdict
from pynetes.storage.etcd.leases import (
    LEASE_MAX_ATTACHED,
    LeaseManager,
    lease_reuse_seconds,
    ttl_seconds,
)
from pynetes.storage.etcd.process import EtcdCluster, EtcdStartError
from tests.conftest import FakeClock, require_tool

#: Upper bound for anything that should be quick; a hang fails instead of stalling.
BOUND = 30.0


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EtcdCluster]:
    require_tool("etcd")
    started = await EtcdCluster.start(tmp_path / "etcd")
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def etcd_store(cluster: EtcdCluster) -> AsyncIterator[EtcdStore]:
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None)
    try:
        yield store
    finally:
        await store.close()


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def raw_etcd(endpoint: str) -> AsyncIterator[grpc.aio.Channel]:
    """A gRPC channel straight to etcd, to look behind the store's back."""
    async with grpc.aio.insecure_channel(endpoint.removeprefix("http://")) as channel:
        yield channel


async def lease_ids(endpoint: str) -> list[int]:
    async with raw_etcd(endpoint) as channel:
        response = await rpc.LeaseStub(channel).LeaseLeases(rpc.LeaseLeasesRequest())
    return [lease.ID for lease in response.leases]


async def lease_info(endpoint: str, lease_id: int) -> rpc.LeaseTimeToLiveResponse:
    async with raw_etcd(endpoint) as channel:
        request = rpc.LeaseTimeToLiveRequest(ID=lease_id, keys=True)
        return await rpc.LeaseStub(channel).LeaseTimeToLive(request)


def etcd_metric(endpoint: str, name: str) -> float:
    with urllib.request.urlopen(f"{endpoint}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"etcd exports no metric {name}")


# -- etcd unreachable ---------------------------------------------------------


async def test_an_unreachable_endpoint_raises_unavailable_not_a_hang() -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    async with asyncio.timeout(BOUND):
        with pytest.raises(UnavailableError) as refused:
            await EtcdStore.open([endpoint], compaction_window=None, retry_timeout=1.0)
    assert endpoint in str(refused.value)


async def test_requests_fail_with_unavailable_once_etcd_is_gone(cluster: EtcdCluster) -> None:
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None, retry_timeout=1.0)
    try:
        await store.create("/k", b"v")
        cluster.kill(0)
        await cluster.stop()
        async with asyncio.timeout(BOUND):
            with pytest.raises(UnavailableError):
                await store.get("/k")
            with pytest.raises(UnavailableError):
                await store.create("/k2", b"v")
            with pytest.raises(UnavailableError):
                async with contextlib.aclosing(store.watch("/", after_revision=0)) as watch:
                    await anext(watch)
    finally:
        await store.close()


async def test_a_dead_first_endpoint_is_skipped(cluster: EtcdCluster) -> None:
    endpoints = [f"http://127.0.0.1:{unused_port()}", *cluster.endpoints]
    async with asyncio.timeout(BOUND):
        store = await EtcdStore.open(endpoints, compaction_window=None)
        try:
            created = await store.create("/k", b"v")
            assert (await store.get("/k")) == created
            assert store.current_endpoint == cluster.endpoints[0]
        finally:
            await store.close()


# -- the retry policy ---------------------------------------------------------


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    ("code", "details", "read", "write"),
    [
        # The connection broke with the request in flight: it may have been applied.
        (UNAVAILABLE, "Stream removed (recvmsg:Connection reset by peer)", "retry", "unknown"),
        (UNAVAILABLE, "etcdserver: request timed out", "retry", "unknown"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", "retry", "unknown"),
        # gRPC core's own words when the transport died under a stream write.
        (grpc.StatusCode.INTERNAL, "Internal error from Core", "retry", "unknown"),
        # The request never reached etcd, or etcd refused it before proposing it.
        (UNAVAILABLE, "failed to connect to all addresses; last error: ...", "retry", "retry"),
        (UNAVAILABLE, "etcdserver: no leader", "retry", "retry"),
        (EXHAUSTED, "etcdserver: too many requests", "retry", "retry"),
        # Answers: the caller maps them.
        (EXHAUSTED, "etcdserver: mvcc: database space exceeded", "fail", "fail"),
        (
            grpc.StatusCode.OUT_OF_RANGE,
            "etcdserver: mvcc: required revision has been compacted",
            "fail",
            "fail",
        ),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large", "fail", "fail"),
        (grpc.StatusCode.INTERNAL, "etcdserver: corrupt cluster", "fail", "fail"),
    ],
)
def test_only_writes_that_cannot_have_landed_are_retried(
    code: grpc.StatusCode, details: str, read: str, write: str
) -> None:
    error = rpc_error(code, details)
    assert _classify(error, idempotent=True) is _Verdict(read)
    assert _classify(error, idempotent=False) is _Verdict(write)


# -- failover -----------------------------------------------------------------

WRITERS = 32
KEYS_PER_WRITER = 25
KILL_AFTER = WRITERS * KEYS_PER_WRITER // 4
MAX_ATTEMPTS = 50


@pytest.mark.slow
async def test_acknowledged_writes_survive_the_death_of_the_connected_member(
    tmp_path: Path,
) -> None:
    require_tool("etcd")
    cluster = await EtcdCluster.start(tmp_path / "etcd", members=3)
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None)
    try:
        await _writers_through_a_member_kill(cluster, store)
    finally:
        await store.close()
        await cluster.stop()


async def _writers_through_a_member_kill(cluster: EtcdCluster, store: EtcdStore) -> None:
    assert store.current_endpoint == cluster.endpoints[0]
    start = await store.current_revision()
    acknowledged: dict[str, bytes] = {}
    enough_written = asyncio.Event()
    total = WRITERS * KEYS_PER_WRITER

    async def create(key: str, value: bytes) -> None:
        """Create ``key``, retrying after UnavailableError, as a Kubernetes client would."""
        uncertain = False
        for _ in range(MAX_ATTEMPTS):
            try:
                await store.create(key, value)
            except UnavailableError:
                uncertain = True  # this attempt may or may not have been applied
                continue
            except KeyExistsError:
                if not uncertain:
                    raise
                # An earlier attempt whose outcome was unknown did land.
                current = await store.get(key)
                assert current is not None and current.value == value
            acknowledged[key] = value
            if len(acknowledged) >= KILL_AFTER:
                enough_written.set()
            return
        pytest.fail(f"{key} not written in {MAX_ATTEMPTS} attempts")

    async def writer(number: int) -> None:
        for index in range(KEYS_PER_WRITER):
            key = f"/fault/{number:02}/{index:03}"
            await create(key, key.encode())

    async def watch_everything() -> list[WatchEvent]:
        events: list[WatchEvent] = []
        async with contextlib.aclosing(store.watch("/fault/", after_revision=start)) as watch:
            async for event in watch:
                events.append(event)
                if len(events) == total:
                    return events
        return events

    async with asyncio.timeout(180):
        watching = asyncio.create_task(watch_everything())
        writers = asyncio.gather(*(writer(number) for number in range(WRITERS)))
        await enough_written.wait()
        # A second watcher of the prefix, from the start: it catches up on its
        # own etcd watch while the member dies, then joins the shared one.
        late_watching = asyncio.create_task(watch_everything())
        cluster.kill(0)
        await writers
        events = await watching
        late_events = await late_watching

    assert len(acknowledged) == total
    assert store.current_endpoint != cluster.endpoints[0]
    listed = await store.list("/fault/")
    present = {kv.key: kv.value for kv in listed.items}
    assert present == acknowledged
    # The watch moved to a live member without losing or repeating an event.
    revisions = [event.revision for event in events]
    assert revisions == sorted(set(revisions))
    assert {event.kv.key for event in events} == set(acknowledged)
    assert {event.type for event in events} == {EventType.CREATED}
    assert late_events == events


# -- leases -------------------------------------------------------------------


async def test_keys_with_the_same_ttl_share_a_lease(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    endpoint = cluster.endpoints[0]
    await asyncio.gather(
        *(etcd_store.create(f"/registry/events/e{n:03}", b"event", ttl=3600) for n in range(300))
    )
    [lease] = await lease_ids(endpoint)
    info = await lease_info(endpoint, lease)
    assert info.grantedTTL == 3600 + lease_reuse_seconds(3600)
    assert len(info.keys) == 300

    await etcd_store.create("/registry/events/other", b"event", ttl=600)
    assert len(await lease_ids(endpoint)) == 2


async def test_an_update_without_ttl_detaches_the_lease(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    await etcd_store.create("/k", b"v", ttl=3600)
    [lease] = await lease_ids(cluster.endpoints[0])
    await etcd_store.update("/k", b"w")
    assert len((await lease_info(cluster.endpoints[0], lease)).keys) == 0


def test_ttls_are_whole_seconds_rounded_up() -> None:
    assert [ttl_seconds(t) for t in (0.1, 1, 1.5, 59.01)] == [1, 1, 2, 60]


def test_leases_are_reused_for_a_window_as_kube_apiserver_does() -> None:
    assert lease_reuse_seconds(3600) == 60  # capped
    assert lease_reuse_seconds(600) == 30  # 5 %
    assert lease_reuse_seconds(10) == 0  # too short to share


async def test_a_lease_is_reused_only_within_its_window_and_attachment_limit() -> None:
    clock = FakeClock(now=0.0)
    granted: list[int] = []

    async def grant(seconds: int) -> int:
        granted.append(seconds)
        return len(granted)

    leases = LeaseManager(grant, clock=clock)
    assert {await leases.lease_for(3600) for _ in range(10)} == {1}
    clock.advance(59)
    assert await leases.lease_for(3600) == 1
    clock.advance(1)
    assert await leases.lease_for(3600) == 2
    assert granted == [3660, 3660]
    for _ in range(LEASE_MAX_ATTACHED - 1):
        await leases.lease_for(3600)
    assert await leases.lease_for(3600) == 3
    leases.forget(3)
    assert await leases.lease_for(3600) == 4
    assert await leases.lease_for(3599.5) == 4  # the same whole-second TTL


async def test_concurrent_first_keys_wait_for_one_grant() -> None:
    release = asyncio.Event()
    grants = 0

    async def slow_grant(seconds: int) -> int:
        nonlocal grants
        grants += 1
        await release.wait()
        return 7

    leases = LeaseManager(slow_grant)
    waiting = asyncio.gather(*(leases.lease_for(3600) for _ in range(50)))
    await asyncio.sleep(0)
    release.set()
    assert set(await waiting) == {7}
    assert grants == 1


# -- compaction and watch edges ------------------------------------------------


async def test_the_compacted_revision_is_read_from_etcd(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    """A compaction made by another client (another API server) is seen."""
    assert await etcd_store.compacted_revision() == 0
    for index in range(5):
        await etcd_store.create(f"/k/{index}", b"v")
    target = await etcd_store.current_revision() - 2
    async with raw_etcd(cluster.endpoints[0]) as channel:
        await rpc.KVStub(channel).Compact(rpc.CompactionRequest(revision=target))
    assert await etcd_store.compacted_revision() == target
    await etcd_store.compact(target - 1)  # older than what is compacted: nothing to do
    assert await etcd_store.compacted_revision() == target


async def test_the_background_compactor_compacts(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    for index in range(3):
        await etcd_store.create(f"/k/{index}", b"v")
    compacting = await EtcdStore.open(cluster.endpoints, compaction_window=0.5)
    try:
        for _ in range(100):
            if await compacting.compacted_revision() > 0:
                break
            await asyncio.sleep(0.1)
        assert await compacting.compacted_revision() > 0
    finally:
        await compacting.close()


async def test_a_watch_needs_every_revision_after_its_start(etcd_store: EtcdStore) -> None:
    """etcd accepts a watch from the compacted revision itself; the contract does not."""
    for index in range(5):
        await etcd_store.create(f"/w/{index}", b"v")
    compacted = await etcd_store.current_revision() - 1
    await etcd_store.compact(compacted)
    with pytest.raises(CompactedError) as gone:
        async with contextlib.aclosing(etcd_store.watch("/w/", after_revision=compacted - 1)) as w:
            await anext(w)
    assert gone.value.compacted == compacted
    async with contextlib.aclosing(etcd_store.watch("/w/", after_revision=compacted)) as watch:
        async with asyncio.timeout(BOUND):
            event = await anext(watch)
    assert event.revision == compacted + 1


async def test_closing_a_watch_cancels_it_in_etcd(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    endpoint = cluster.endpoints[0]
    start = await etcd_store.current_revision()
    watches = [etcd_store.watch(f"/w{n}/", after_revision=start) for n in range(3)]
    for number, watch in enumerate(watches):
        await etcd_store.create(f"/w{number}/k", b"v")
        async with asyncio.timeout(BOUND):
            await anext(watch)
    assert etcd_metric(endpoint, "etcd_debugging_mvcc_watcher_total") == 3
    for watch in watches:
        await watch.aclose()
    for _ in range(200):
        if etcd_metric(endpoint, "etcd_debugging_mvcc_watcher_total") == 0:
            break
        await asyncio.sleep(0.05)
    assert etcd_metric(endpoint, "etcd_debugging_mvcc_watcher_total") == 0


async def test_closing_the_store_ends_its_watches(cluster: EtcdCluster) -> None:
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None)
    starting = store.watch("/v/", after_revision=await store.current_revision())
    running = store.watch("/w/", after_revision=await store.current_revision())
    await store.create("/w/a", b"v")
    async with asyncio.timeout(BOUND):
        await anext(running)
        waiting = [asyncio.create_task(anext(watch, None)) for watch in (starting, running)]
        await asyncio.sleep(0)  # let both start: one opens its stream, one reads it
        await store.close()
        await store.close()  # idempotent
        assert await asyncio.gather(*waiting) == [None, None]


async def test_a_value_of_the_largest_size_fits(etcd_store: EtcdStore) -> None:
    created = await etcd_store.create("/big", b"x" * MAX_VALUE_BYTES)
    got = await etcd_store.get("/big")
    assert got == created


# -- shared watch streams ----------------------------------------------------

#: etcd's gauge of the watches it serves.
WATCHERS = "etcd_debugging_mvcc_watcher_total"


async def etcd_watches(endpoint: str, expected: int) -> int:
    """etcd's count of watches, once it is ``expected`` or after a while.

    A cancelled watch leaves etcd's count a moment after the client drops it.
    """
    for _ in range(200):
        count = int(etcd_metric(endpoint, WATCHERS))
        if count == expected:
            break
        await asyncio.sleep(0.05)
    return count


async def take(watch: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    async with asyncio.timeout(BOUND):
        return [await anext(watch) for _ in range(count)]


async def put_together(endpoint: str, keys: list[str]) -> int:
    """Put ``keys`` in one transaction: several events with one revision."""
    puts = [
        rpc.RequestOp(request_put=rpc.PutRequest(key=key.encode(), value=b"txn")) for key in keys
    ]
    async with raw_etcd(endpoint) as channel:
        response = await rpc.KVStub(channel).Txn(rpc.TxnRequest(success=puts))
    return int(response.header.revision)


async def test_watchers_of_one_prefix_share_one_etcd_watch(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    endpoint = cluster.endpoints[0]
    start = await etcd_store.current_revision()
    watches = [etcd_store.watch("/shared/", after_revision=start) for _ in range(50)]
    try:
        first = await etcd_store.create("/shared/0", b"v")
        async with asyncio.timeout(BOUND):
            firsts = await asyncio.gather(*(anext(watch) for watch in watches))
        assert {event.kv for event in firsts} == {first}
        # All 50 are registered; those that came after the first event caught
        # up with a watch of their own, closed once caught up.
        assert await etcd_watches(endpoint, 1) == 1

        written = [await etcd_store.create(f"/shared/{n}", b"v") for n in range(1, 20)]
        written.append(await etcd_store.update("/shared/0", b"w"))
        written.append(await etcd_store.delete("/shared/1"))
        received = await asyncio.gather(*(take(watch, len(written)) for watch in watches))
        assert etcd_metric(endpoint, WATCHERS) == 1
    finally:
        for watch in watches:
            await watch.aclose()
    revisions = [kv.mod_revision for kv in written]
    for events in received:
        assert [event.revision for event in events] == revisions
        assert events == received[0]
    updated, deleted = received[0][-2:]
    assert updated.prev_kv == first
    assert deleted.type is EventType.DELETED and deleted.prev_kv == written[0]
    assert await etcd_watches(endpoint, 0) == 0


async def test_a_watcher_from_before_the_shared_stream_gets_every_event_once(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    endpoint = cluster.endpoints[0]
    start = await etcd_store.current_revision()
    live = etcd_store.watch("/late/", after_revision=start)
    late = etcd_store.watch("/late/", after_revision=start)
    try:
        await etcd_store.create("/late/a", b"1")
        await put_together(endpoint, ["/late/b", "/late/c", "/late/d"])
        await etcd_store.update("/late/a", b"2")
        before = await take(live, 5)
        # The shared stream has delivered 5 events; these start further back.
        middle_start = before[0].revision
        middle = etcd_store.watch("/late/", after_revision=middle_start)
        catching_up = [
            asyncio.create_task(take(late, 10)),
            asyncio.create_task(take(middle, 9)),
        ]
        await etcd_store.delete("/late/b")
        await put_together(endpoint, ["/late/e", "/late/f"])
        for key in ("/late/g", "/late/h"):
            await etcd_store.create(key, b"3")
        after = await take(live, 5)
        late_events, middle_events = await asyncio.gather(*catching_up)
        assert await etcd_watches(endpoint, 1) == 1  # the catch-up watches are gone
        await middle.aclose()
    finally:
        await live.aclose()
        await late.aclose()
    assert late_events == before + after
    assert middle_events == before[1:] + after
    revisions = [event.revision for event in late_events]
    assert revisions == sorted(revisions)
    assert len({(event.revision, event.kv.key) for event in late_events}) == 10


async def test_a_catch_up_longer_than_an_etcd_batch_misses_nothing(
    etcd_store: EtcdStore,
) -> None:
    """etcd replays at most 1,000 revisions a response, each stamped with the current revision."""
    start = await etcd_store.current_revision()
    live = etcd_store.watch("/long/", after_revision=start)
    late = etcd_store.watch("/long/", after_revision=start)
    try:
        await etcd_store.create("/long/first", b"v")
        await take(live, 1)
        await asyncio.gather(*(etcd_store.create(f"/long/{n:04}", b"v") for n in range(1500)))
        expected = await take(live, 1500)
        caught_up = await take(late, 1501)
    finally:
        await live.aclose()
        await late.aclose()
    assert caught_up[1:] == expected
    assert [event.revision for event in caught_up] == list(range(start + 1, start + 1502))


async def test_a_catch_up_before_the_first_shared_event_ends_on_a_later_event(
    cluster: EtcdCluster, etcd_store: EtcdStore
) -> None:
    """No event marks where a stream that has delivered nothing started."""
    endpoint = cluster.endpoints[0]
    start = await etcd_store.current_revision()
    for key in ("/quiet/a", "/quiet/b", "/quiet/c"):
        await etcd_store.create(key, b"old")
    shared_start = (await etcd_store.create("/elsewhere", b"x")).mod_revision
    live = etcd_store.watch("/quiet/", after_revision=shared_start)
    old = etcd_store.watch("/quiet/", after_revision=start)
    try:
        live_events = asyncio.create_task(take(live, 2))
        assert await etcd_watches(endpoint, 1) == 1  # the shared stream, with nothing yet
        old_events = await take(old, 3)
        # Caught up to revision shared_start - 1; nothing shows it has reached shared_start.
        assert await etcd_watches(endpoint, 2) == 2
        await etcd_store.create("/quiet/d", b"new")
        await etcd_store.create("/quiet/e", b"new")
        old_events += await take(old, 2)
        assert await etcd_watches(endpoint, 1) == 1
        assert old_events[3:] == await live_events
    finally:
        await live.aclose()
        await old.aclose()
    assert [event.kv.key for event in old_events] == [f"/quiet/{k}" for k in "abcde"]
    assert [event.revision for event in old_events] == [
        start + 1,
        start + 2,
        start + 3,
        shared_start + 1,
        shared_start + 2,
    ]


async def test_a_watcher_that_overflows_in_a_revision_catches_up_exactly(
    cluster: EtcdCluster,
) -> None:
    """A buffer that overflows part way through a revision's events loses none of them."""
    endpoint = cluster.endpoints[0]
    store = await EtcdStore.open(cluster.endpoints, compaction_window=None, max_pending_events=6)
    start = await store.current_revision()
    slow = store.watch("/o/", after_revision=start)
    fast = store.watch("/o/", after_revision=start)
    try:
        await store.create("/o/0", b"v")
        await take(slow, 1)
        await take(fast, 1)
        together = await put_together(endpoint, [f"/o/t{n}" for n in range(5)])
        await take(fast, 5)
        got = await take(slow, 2)  # 3 events of that revision left in its buffer
        for n in range(10):
            await store.create(f"/o/{n + 1:02}", b"v")
            await take(fast, 1)  # published to slow's buffer too, which overflows
        got += await take(slow, 13)
    finally:
        await slow.aclose()
        await fast.aclose()
        await store.close()
    assert [(event.revision, event.kv.key) for event in got] == [
        *((together, f"/o/t{n}") for n in range(5)),
        *((together + 1 + n, f"/o/{n + 1:02}") for n in range(10)),
    ]


# -- the launcher -------------------------------------------------------------


async def test_a_cluster_started_again_keeps_its_data_and_addresses(tmp_path: Path) -> None:
    require_tool("etcd")
    first = await EtcdCluster.start(tmp_path)
    try:
        store = await EtcdStore.open(first.endpoints, compaction_window=None)
        await store.create("/kept", b"v")
        await store.close()
    finally:
        await first.stop()
        await first.stop()  # idempotent
    second = await EtcdCluster.start(tmp_path)
    try:
        assert second.endpoints == first.endpoints
        store = await EtcdStore.open(second.endpoints, compaction_window=None)
        got = await store.get("/kept")
        await store.close()
        assert got is not None and got.value == b"v"
    finally:
        await second.stop()


async def test_an_etcd_that_exits_at_start_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EtcdStartError, match="exited with status 1"):
        await EtcdCluster.start(tmp_path, etcd_binary="false")
    with pytest.raises(EtcdStartError, match="not found"):
        await EtcdCluster.start(tmp_path, etcd_binary="no-such-etcd-binary")
