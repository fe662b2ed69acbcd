"""Property test: random operation sequences agree with a model, and the watch history replays them.

One store per backend serves every example; each example works under a fresh
prefix, so examples do not see each other's keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynetes.storage import (
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
)
from tests.storage.conftest import BACKENDS, open_harness


@dataclass(frozen=True)
class Operation:
    verb: str  # create, update, delete, get
    key: int
    value: bytes
    guard: str  # none, current, stale


operations = st.lists(
    st.builds(
        Operation,
        verb=st.sampled_from(["create", "update", "delete", "get"]),
        key=st.integers(0, 4),
        value=st.binary(max_size=64),
        guard=st.sampled_from(["none", "current", "stale"]),
    ),
    max_size=40,
)


@pytest.fixture(scope="module", params=BACKENDS)
def running_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[asyncio.Runner, Store]]:
    runner = asyncio.Runner()
    harness = runner.run(open_harness(request.param, tmp_path_factory.mktemp(request.param)))
    try:
        yield runner, harness.store
    finally:
        runner.run(harness.close())
        runner.close()


_example_numbers = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_random_operations_match_a_model_and_the_watch_replays_them(
    running_store: tuple[asyncio.Runner, Store], ops: list[Operation]
) -> None:
    runner, store = running_store
    prefix = f"/model/{next(_example_numbers)}/"
    runner.run(_check(store, prefix, ops))


async def _check(store: Store, prefix: str, ops: list[Operation]) -> None:
    model: dict[str, KeyValue] = {}
    start = await store.current_revision()
    writes = 0
    for op in ops:
        writes += await _apply(store, model, f"{prefix}{op.key}", op)
    listed = await store.list(prefix)
    assert {kv.key: kv for kv in listed.items} == model

    replayed: dict[str, bytes] = {}
    if writes:
        async with contextlib.aclosing(store.watch(prefix, after_revision=start)) as watch:
            async with asyncio.timeout(20):
                async for event in watch:
                    if event.type is EventType.DELETED:
                        del replayed[event.kv.key]
                    else:
                        replayed[event.kv.key] = event.kv.value
                    writes -= 1
                    if writes == 0:
                        break
    assert replayed == {key: kv.value for key, kv in model.items()}


async def _apply(store: Store, model: dict[str, KeyValue], key: str, op: Operation) -> int:
    """Run one operation, check its outcome against the model; returns writes made (0 or 1)."""
    current = model.get(key)
    expected_revision = None
    if op.guard != "none" and current is not None:
        expected_revision = current.mod_revision - (1 if op.guard == "stale" else 0)
    if op.verb == "get":
        assert await store.get(key) == current
        return 0
    if op.verb == "create":
        if current is not None:
            with pytest.raises(KeyExistsError):
                await store.create(key, op.value)
            return 0
        model[key] = await store.create(key, op.value)
        assert model[key].create_revision == model[key].mod_revision
        assert model[key].value == op.value
        return 1
    if current is None:
        with pytest.raises(KeyNotFoundError):
            await _write(store, key, op, expected_revision)
        return 0
    if expected_revision is not None and expected_revision != current.mod_revision:
        with pytest.raises(ConflictError):
            await _write(store, key, op, expected_revision)
        return 0
    result = await _write(store, key, op, expected_revision)
    assert result.create_revision == current.create_revision
    assert result.mod_revision > current.mod_revision
    if op.verb == "delete":
        assert result.value == current.value
        del model[key]
    else:
        assert result.value == op.value
        model[key] = result
    return 1


async def _write(store: Store, key: str, op: Operation, expected: int | None) -> KeyValue:
    if op.verb == "update":
        return await store.update(key, op.value, expected_revision=expected)
    return await store.delete(key, expected_revision=expected)
