"""One range's allocations, kept in the store so that every API server shares them.

As upstream's etcd-backed allocators (``/registry/ranges/serviceips`` and
``/registry/ranges/servicenodeports``), the allocations of a range live in
one storage entry, a ``RangeAllocation``, and every change is a
compare-and-swap of that entry: two API servers on one etcd that race for
the same address both read revision R, one writes R+1 and the other's write
fails and is judged again on R+1, so an address is never handed out twice.
The entry holds the range and the sorted offsets of the allocated values
(upstream keeps a bitmap; offsets stay small for sparse ranges).

A value allocated for a Service whose write then never happens (a crash in
between) stays allocated until :mod:`repair` frees it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from pynetes.api import errors
from pynetes.apiserver.servicealloc.ranges import Range, RangeError, choose_free
from pynetes.storage import ConflictError, KeyExistsError, KeyNotFoundError, KeyValue, Store

V = TypeVar("V")
T = TypeVar("T")

_MAX_ATTEMPTS = 100


class Refused(Exception):
    """``wanted[index]`` cannot be allocated: ``error`` says why (upstream's message)."""

    def __init__(self, index: int, error: RangeError) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Snapshot:
    """The stored allocations at ``revision`` (0: nothing stored yet)."""

    revision: int
    range: str
    offsets: frozenset[int]


#: Changes ``taken`` (the allocated offsets) in place and returns a result, or raises
#: :class:`Refused` leaving it as it was.
Mutation = Callable[[set[int]], T]


@dataclass(frozen=True)
class _Request(Generic[T]):
    """One change waiting for its turn, and the future its caller waits on."""

    mutate: Mutation[T]
    dry_run: bool
    outcome: asyncio.Future[T]


def _judge(
    batch: list[_Request[Any]], taken: set[int], *, refusals_final: bool
) -> list[Any] | None:
    """Each request applied in turn to ``taken``: its result or its refusal.

    A dry run is judged on a copy. None when a request is refused and
    ``refusals_final`` is false (the state judged on may be stale).
    """
    outcomes: list[Any] = []
    for request in batch:
        try:
            outcomes.append(request.mutate(set(taken) if request.dry_run else taken))
        except Refused as refused:
            if not refusals_final:
                return None
            outcomes.append(refused)
    return outcomes


class RangeAllocator(Generic[V]):
    """The allocations of ``range`` stored at ``key``.

    Changes through one allocator take turns (an asyncio lock), those
    that wait go together in one write, and only writers in other processes
    make a compare-and-swap fail. The last entry this allocator read or
    wrote is remembered; a change is tried against it first and judged
    again on a fresh read when it fails.
    """

    def __init__(
        self, store: Store, key: str, range_: Range[V], *, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.key = key
        self.range = range_
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._known: Snapshot | None = None
        self._queue: list[_Request[Any]] = []

    # -- what Services use ----------------------------------------------------

    async def reserve(self, wanted: Sequence[V | None], *, dry_run: bool = False) -> list[V]:
        """Allocate every value of ``wanted`` (None: any free one): all of them, or none.

        Raises :class:`Refused` naming the first value that cannot be had. A
        dry run judges against the stored allocations and writes nothing.
        """

        def take(taken: set[int]) -> list[V]:
            added: list[int] = []
            for index, value in enumerate(wanted):
                try:
                    offset = self._claim(value, taken)
                except RangeError as error:
                    taken.difference_update(added)
                    raise Refused(index, error) from None
                taken.add(offset)
                added.append(offset)
            return [self.range.value(offset) for offset in added]

        return await self._change(take, dry_run=dry_run)

    def _claim(self, value: V | None, taken: set[int]) -> int:
        if value is None:
            return choose_free(self.range.size, self.range.static_band, taken, self._rng)
        offset = self.range.offset(value)
        if offset is None:
            raise self.range.not_in_range(value)
        if offset in taken:
            raise self.range.already_allocated()
        return offset

    async def release(self, values: Iterable[V]) -> None:
        """Free ``values``; values outside the range or not allocated are ignored."""
        offsets = {self.range.offset(value) for value in values} - {None}
        if not offsets:
            return

        def free(taken: set[int]) -> None:
            taken.difference_update(offsets)

        await self._change(free)

    # -- what repair uses -----------------------------------------------------

    async def read(self) -> Snapshot:
        """The stored allocations as they are now (a storage read, not the remembered entry)."""
        return self._remember(await self.store.get(self.key))

    async def replace(self, expected: Snapshot, offsets: Iterable[int]) -> bool:
        """Store ``offsets`` if nothing changed since ``expected``; False if something did."""
        async with self._lock:
            if await self._write(expected, set(offsets)):
                return True
            self._known = None
            return False

    # -- the compare-and-swap ---------------------------------------------------

    async def _change(self, mutate: Mutation[T], *, dry_run: bool = False) -> T:
        """Apply ``mutate`` to the stored offsets by compare-and-swap; its result.

        Changes asked for while a write is under way wait for it, then go
        together in the next write: one compare-and-swap for many Services
        created at once, not one each.
        """
        request: _Request[T] = _Request(mutate, dry_run, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        try:
            async with self._lock:
                if not request.outcome.done():
                    batch, self._queue = self._queue, []
                    await self._apply_together(batch, request)
        except asyncio.CancelledError:
            if request in self._queue:
                self._queue.remove(request)
            raise
        return request.outcome.result()

    async def _apply_together(self, batch: list[_Request[Any]], own: _Request[Any]) -> None:
        """Apply ``batch``; if that fails, the others of the batch fail with the same error."""
        try:
            await self._apply(batch)
        except BaseException as error:
            failure = (
                error
                if isinstance(error, Exception)
                else errors.internal_error(f"the allocation in {self.key} was interrupted")
            )
            for request in batch:
                if request is not own and not request.outcome.done():
                    request.outcome.set_exception(failure)
            raise

    async def _apply(self, batch: list[_Request[Any]]) -> None:
        """Judge every request of ``batch`` on one state and store the result in one write.

        A refusal, or a batch that needs no write, judged on the remembered
        entry is judged again on a fresh read: the entry may be stale (a
        write that wins its compare-and-swap proves it was not). A write
        that loses the compare-and-swap judges the batch again too.
        """
        fresh = self._known is None
        for _attempt in range(_MAX_ATTEMPTS):
            known = self._known if self._known is not None else await self.read()
            if known.range and known.range != str(self.range):
                raise errors.internal_error(
                    f"the range {known.range} stored at {self.key} is not {self.range}"
                    " (it is repaired at the next start or repair pass)"
                )
            taken = set(known.offsets)
            outcomes = _judge(batch, taken, refusals_final=fresh)
            if outcomes is None or (taken == known.offsets and not fresh):
                self._known, fresh = None, True
                continue
            if taken != known.offsets and not await self._write(known, taken):
                self._known, fresh = None, True
                continue
            for request, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Refused):
                    request.outcome.set_exception(outcome)
                else:
                    request.outcome.set_result(outcome)
            return
        raise errors.internal_error(f"too many conflicting writes of {self.key}")

    async def _write(self, known: Snapshot, taken: set[int]) -> bool:
        value = _encode(str(self.range), taken)
        try:
            if known.revision == 0:
                stored = await self.store.create(self.key, value)
            else:
                stored = await self.store.update(self.key, value, expected_revision=known.revision)
        except (ConflictError, KeyExistsError, KeyNotFoundError):
            return False
        self._known = Snapshot(stored.mod_revision, str(self.range), frozenset(taken))
        return True

    def _remember(self, kv: KeyValue | None) -> Snapshot:
        if kv is None:
            snapshot = Snapshot(0, "", frozenset())
        else:
            stored = orjson.loads(kv.value)
            snapshot = Snapshot(
                kv.mod_revision, stored.get("range", ""), frozenset(stored.get("offsets") or ())
            )
        self._known = snapshot
        return snapshot


def _encode(range_: str, offsets: set[int]) -> bytes:
    return orjson.dumps(
        {
            "kind": "RangeAllocation",
            "apiVersion": "v1",
            "metadata": {},
            "range": range_,
            "offsets": sorted(offsets),
        }
    )
