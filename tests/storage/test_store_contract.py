"""The storage contract, run against every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from pynetes.storage import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    InvalidContinueTokenError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
    ValueTooLargeError,
    WatchEvent,
    continuation,
)
from tests.storage.conftest import Harness

EVENT_TIMEOUT = 20.0


async def next_events(store: Store, prefix: str, after: int, count: int) -> list[WatchEvent]:
    """The first ``count`` events of a watch of ``prefix`` after revision ``after``."""
    events: list[WatchEvent] = []
    async with contextlib.aclosing(store.watch(prefix, after_revision=after)) as watch:
        async with asyncio.timeout(EVENT_TIMEOUT):
            async for event in watch:
                events.append(event)
                if len(events) == count:
                    break
    return events


def apply_events(state: dict[str, bytes], events: list[WatchEvent]) -> dict[str, bytes]:
    for event in events:
        if event.type is EventType.DELETED:
            del state[event.kv.key]
        else:
            state[event.kv.key] = event.kv.value
    return state


async def test_each_write_advances_the_revision_by_one(store: Store) -> None:
    start = await store.current_revision()
    created = await store.create("/registry/pods/default/web", b"v1")
    assert (created.create_revision, created.mod_revision) == (start + 1, start + 1)
    updated = await store.update("/registry/pods/default/web", b"v2")
    assert (updated.create_revision, updated.mod_revision) == (start + 1, start + 2)
    deleted = await store.delete("/registry/pods/default/web")
    assert deleted.value == b"v2"
    assert deleted.mod_revision == start + 3
    assert await store.current_revision() == start + 3
    assert await store.get("/registry/pods/default/web") is None


async def test_get_returns_the_current_entry(store: Store) -> None:
    await store.create("/k", b"one")
    await store.update("/k", b"two")
    got = await store.get("/k")
    assert got is not None
    assert got.value == b"two"
    assert await store.get("/missing") is None


async def test_a_recreated_key_has_a_new_create_revision(store: Store) -> None:
    first = await store.create("/k", b"a")
    await store.delete("/k")
    second = await store.create("/k", b"b")
    assert second.create_revision > first.create_revision


async def test_create_refuses_an_existing_key(store: Store) -> None:
    await store.create("/k", b"a")
    with pytest.raises(KeyExistsError):
        await store.create("/k", b"b")
    got = await store.get("/k")
    assert got is not None and got.value == b"a"


async def test_update_and_delete_of_a_missing_key_fail(store: Store) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.update("/nothing", b"x")
    with pytest.raises(KeyNotFoundError):
        await store.delete("/nothing")


async def test_guarded_writes_conflict_on_a_stale_revision(store: Store) -> None:
    first = await store.create("/k", b"a")
    second = await store.update("/k", b"b", expected_revision=first.mod_revision)
    with pytest.raises(ConflictError) as conflict:
        await store.update("/k", b"c", expected_revision=first.mod_revision)
    assert conflict.value.actual == second.mod_revision
    with pytest.raises(ConflictError):
        await store.delete("/k", expected_revision=first.mod_revision)
    got = await store.get("/k")
    assert got is not None and got.value == b"b"
    await store.delete("/k", expected_revision=second.mod_revision)
    assert await store.get("/k") is None


async def test_guaranteed_update_retries_until_every_increment_lands(store: Store) -> None:
    await store.create("/counter", b"0")

    async def increment() -> None:
        await store.guaranteed_update("/counter", lambda kv: str(int(kv.value) + 1).encode())

    await asyncio.gather(*(increment() for _ in range(20)))
    got = await store.get("/counter")
    assert got is not None and got.value == b"20"


async def test_guaranteed_update_that_changes_nothing_does_not_write(store: Store) -> None:
    created = await store.create("/k", b"same")
    result = await store.guaranteed_update("/k", lambda kv: None)
    assert result.mod_revision == created.mod_revision
    assert await store.current_revision() == created.mod_revision


async def test_list_returns_only_the_prefix_in_key_order(store: Store) -> None:
    for key in ["/registry/pods/b", "/registry/pods/a", "/registry/podsx/c", "/registry/pod"]:
        await store.create(key, key.encode())
    page = await store.list("/registry/pods/")
    assert [kv.key for kv in page.items] == ["/registry/pods/a", "/registry/pods/b"]
    assert page.continue_token is None
    assert page.remaining is None
    assert page.revision == await store.current_revision()


async def test_pagination_counts_what_remains(store: Store) -> None:
    for index in range(25):
        await store.create(f"/items/{index:03}", b"x")
    seen: list[str] = []
    page = await store.list("/items/", limit=10)
    remaining = []
    while True:
        seen += [kv.key for kv in page.items]
        remaining.append(page.remaining)
        if page.continue_token is None:
            break
        page = await store.list("/items/", limit=10, continue_token=page.continue_token)
    assert seen == [f"/items/{index:03}" for index in range(25)]
    assert remaining == [15, 5, None]


async def test_every_page_is_read_at_the_revision_of_the_first(store: Store) -> None:
    for index in range(30):
        await store.create(f"/items/{index:03}", b"original")
    first = await store.list("/items/", limit=10)

    async def churn() -> None:
        for index in range(30):
            await store.update(f"/items/{index:03}", b"changed")
        await store.delete("/items/025")
        await store.create("/items/999", b"new")

    writer = asyncio.create_task(churn())
    pages = [first]
    while pages[-1].continue_token is not None:
        pages.append(await store.list("/items/", limit=10, continue_token=pages[-1].continue_token))
    await writer
    items = [kv for page in pages for kv in page.items]
    assert [kv.key for kv in items] == [f"/items/{index:03}" for index in range(30)]
    assert {kv.value for kv in items} == {b"original"}
    assert {page.revision for page in pages} == {first.revision}


async def test_list_at_an_old_revision_shows_the_old_state(store: Store) -> None:
    await store.create("/k/a", b"1")
    before = await store.current_revision()
    await store.update("/k/a", b"2")
    await store.create("/k/b", b"3")
    old = await store.list("/k/", revision=before)
    assert [(kv.key, kv.value) for kv in old.items] == [("/k/a", b"1")]
    assert old.revision == before


async def test_list_of_a_future_revision_fails(store: Store) -> None:
    await store.create("/k/a", b"1")
    with pytest.raises(FutureRevisionError):
        await store.list("/k/", revision=await store.current_revision() + 100)


async def test_a_foreign_continue_token_is_refused(store: Store) -> None:
    with pytest.raises(InvalidContinueTokenError):
        await store.list("/k/", limit=1, continue_token="not-a-token")


async def test_compaction_expires_old_reads_and_keeps_the_present(store: Store) -> None:
    for index in range(10):
        await store.create(f"/k/{index}", b"v0")
    first_page = await store.list("/k/", limit=3)
    old_revision = await store.current_revision()
    for index in range(10):
        await store.update(f"/k/{index}", b"v1")
    await store.delete("/k/9")
    await store.compact(await store.current_revision())
    with pytest.raises(CompactedError):
        await store.list("/k/", revision=old_revision)
    with pytest.raises(CompactedError):
        await store.list("/k/", limit=3, continue_token=first_page.continue_token)
    now = await store.list("/k/")
    assert [(kv.key, kv.value) for kv in now.items] == [(f"/k/{i}", b"v1") for i in range(9)]
    assert await store.compacted_revision() >= old_revision


async def test_a_token_resumed_at_the_newest_revision_lists_the_rest_as_it_is_now(
    store: Store,
) -> None:
    for index in range(5):
        await store.create(f"/k/{index}", b"v0")
    first_page = await store.list("/k/", limit=2)
    assert first_page.continue_token is not None
    await store.delete("/k/4")
    await store.create("/k/5", b"v0")
    token = continuation.resume_at_newest(first_page.continue_token, prefix="/k/")
    rest = await store.list("/k/", limit=2, continue_token=token)
    assert [kv.key for kv in rest.items] == ["/k/2", "/k/3"]
    assert rest.revision == await store.current_revision()
    await store.create("/k/6", b"v0")
    assert rest.continue_token is not None
    last = await store.list("/k/", limit=2, continue_token=rest.continue_token)
    assert ([kv.key for kv in last.items], last.revision) == (["/k/5"], rest.revision)


async def test_watch_reports_each_change_with_its_previous_value(store: Store) -> None:
    start = await store.current_revision()
    await store.create("/w/a", b"1")
    await store.create("/other/x", b"not watched")
    await store.update("/w/a", b"2")
    await store.delete("/w/a")
    events = await next_events(store, "/w/", start, 3)
    assert [event.type for event in events] == [
        EventType.CREATED,
        EventType.UPDATED,
        EventType.DELETED,
    ]
    created, updated, deleted = events
    assert created.kv.value == b"1" and created.prev_kv is None
    assert updated.kv.value == b"2"
    assert updated.prev_kv is not None and updated.prev_kv.value == b"1"
    assert deleted.prev_kv is not None and deleted.prev_kv.value == b"2"
    assert deleted.kv.mod_revision == start + 4
    assert created.kv.create_revision == updated.kv.create_revision == start + 1


async def test_watch_from_now_sees_later_writes(store: Store) -> None:
    start = await store.current_revision()
    watching = asyncio.create_task(next_events(store, "/w/", start, 2))
    await asyncio.sleep(0)
    await store.create("/w/a", b"1")
    await store.update("/w/a", b"2")
    events = await watching
    assert [event.revision for event in events] == [start + 1, start + 2]


async def test_watch_under_32_writers_has_no_gap_no_duplicate_and_keeps_order(
    store: Store,
) -> None:
    start = await store.current_revision()
    writes_per_writer = 30
    watching = asyncio.create_task(next_events(store, "/c/", start, 32 * writes_per_writer))

    async def writer(number: int) -> None:
        key = f"/c/{number}"
        for step in range(writes_per_writer):
            if step % 10 == 0:
                await store.create(key, b"0")
            elif step % 10 == 9:
                await store.delete(key)
            else:
                await store.update(key, str(step).encode())

    await asyncio.gather(*(writer(number) for number in range(32)))
    events = await watching
    revisions = [event.revision for event in events]
    assert revisions == list(range(start + 1, start + 1 + 32 * writes_per_writer))
    listed = await store.list("/c/")
    assert apply_events({}, events) == {kv.key: kv.value for kv in listed.items}


async def test_watch_from_a_compacted_revision_fails(store: Store) -> None:
    start = await store.current_revision()
    for step in range(5):
        await store.create(f"/w/{step}", b"x")
    await store.compact(await store.current_revision())
    with pytest.raises(CompactedError):
        await next_events(store, "/w/", start, 1)


async def test_a_key_with_a_ttl_is_deleted_when_it_runs_out(harness: Harness) -> None:
    store = harness.store
    start = await store.current_revision()
    await store.create("/registry/events/default/e1", b"event", ttl=1)
    await store.create("/registry/events/default/e2", b"event")
    watching = asyncio.create_task(next_events(store, "/registry/events/", start, 3))
    await harness.let_ttl_pass(3)
    events = await watching
    assert [(event.type, event.kv.key) for event in events][2] == (
        EventType.DELETED,
        "/registry/events/default/e1",
    )
    assert await store.get("/registry/events/default/e1") is None
    assert await store.get("/registry/events/default/e2") is not None


async def test_oversize_values_are_refused(store: Store) -> None:
    with pytest.raises(ValueTooLargeError):
        await store.create("/big", b"x" * (MAX_VALUE_BYTES + 1))
    assert await store.get("/big") is None
    await store.create("/big", b"x" * 1000)
    with pytest.raises(ValueTooLargeError):
        await store.update("/big", b"x" * (MAX_VALUE_BYTES + 1))
    got = await store.get("/big")
    assert got is not None and len(got.value) == 1000


async def test_concurrent_writers_of_distinct_keys_all_land(store: Store) -> None:
    keys = [f"/many/{index:04}" for index in range(300)]
    random.Random(7).shuffle(keys)
    created = await asyncio.gather(*(store.create(key, key.encode()) for key in keys))
    revisions = sorted(kv.mod_revision for kv in created)
    assert revisions == list(range(revisions[0], revisions[0] + 300))
    listed = await store.list("/many/")
    assert [kv.key for kv in listed.items] == sorted(keys)
