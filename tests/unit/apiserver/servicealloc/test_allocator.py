"""A range's allocations in the store: all-or-nothing reservations, compare-and-swap between
allocators sharing one store (two API servers), and the repair of the stored entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pynetes.api.errors import ApiError
from pynetes.apiserver.servicealloc.allocator import RangeAllocator, Refused
from pynetes.apiserver.servicealloc.ranges import IPRange, PortRange
from pynetes.apiserver.servicealloc.repair import PASSES_BEFORE_RELEASE, AllocationRepair
from pynetes.apiserver.servicealloc.services import ServiceAllocator
from pynetes.storage.sqlite import SQLiteStore

KEY = "/registry/ranges/servicenodeports"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


def ports(store: SQLiteStore, text: str = "30000-30009") -> RangeAllocator[int]:
    return RangeAllocator(store, KEY, PortRange.parse(text))


async def test_a_reservation_is_all_or_nothing(store: SQLiteStore) -> None:
    allocator = ports(store)
    assert await allocator.reserve([30001, 30002]) == [30001, 30002]
    with pytest.raises(Refused) as refused:
        await allocator.reserve([30003, 30002])
    assert (refused.value.index, str(refused.value)) == (1, "provided port is already allocated")
    assert await allocator.reserve([30003]) == [30003]  # not taken by the refused one


async def test_two_allocators_on_one_store_never_hand_out_one_value_twice(
    store: SQLiteStore,
) -> None:
    first, second = ports(store), ports(store)
    await first.reserve([None])  # both remember an entry, then race
    await second.reserve([None])
    got = await asyncio.gather(*(a.reserve([None]) for a in (first, second) * 4))
    values = [value for [value] in got]
    assert len(set(values)) == 8
    with pytest.raises(Refused, match="range is full"):
        await first.reserve([None])
    await second.release([values[0]])
    assert await first.reserve([values[0]]) == [values[0]]  # first re-reads what second freed


async def test_a_dry_run_writes_nothing(store: SQLiteStore) -> None:
    allocator = ports(store)
    assert await allocator.reserve([30005], dry_run=True) == [30005]
    assert (await allocator.read()).offsets == frozenset()


async def test_an_entry_of_another_range_is_not_used(store: SQLiteStore) -> None:
    await ports(store).reserve([30001])
    with pytest.raises(ApiError) as error:
        await ports(store, "31000-31009").reserve([None])
    assert error.value.code == 500


async def test_repair_marks_what_services_use_and_frees_leaks_after_some_passes(
    store: SQLiteStore,
) -> None:
    allocator = ServiceAllocator(
        store, IPRange.parse("10.96.0.0/28"), PortRange.parse("30000-30009")
    )
    await allocator.ips.reserve(["10.96.0.5"])  # a create that never wrote its Service
    services = [
        {
            "metadata": {"namespace": "default", "name": "web"},
            "spec": {
                "type": "NodePort",
                "clusterIPs": ["10.96.0.9"],
                "ports": [{"nodePort": 30007}],
            },
        }
    ]

    async def listed() -> list[dict]:
        return services

    repair = AllocationRepair(allocator, listed)
    for _ in range(PASSES_BEFORE_RELEASE - 1):
        assert await repair.run_once()
        assert {8, 4} == set((await allocator.ips.read()).offsets)
    assert await repair.run_once()
    assert (await allocator.ips.read()).offsets == frozenset({8})
    assert (await allocator.ports.read()).offsets == frozenset({7})


async def test_concurrent_changes_go_together_in_few_writes(store: SQLiteStore) -> None:
    allocator = ports(store, "30000-30099")
    before = await store.current_revision()
    got = await asyncio.gather(*(allocator.reserve([None]) for _ in range(50)))
    assert len({value for [value] in got}) == 50
    assert await store.current_revision() - before < 50


async def test_a_refusal_in_a_batch_leaves_the_others_alone(store: SQLiteStore) -> None:
    allocator = ports(store)
    outcomes = await asyncio.gather(
        allocator.reserve([30005]),
        allocator.reserve([30001]),
        allocator.reserve([30002, 30001]),
        allocator.reserve([30003], dry_run=True),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], Refused) and outcomes[1] == [30001]
    assert outcomes[3] == [30003]
    stored = (await allocator.read()).offsets
    assert stored == frozenset({1, 5})
