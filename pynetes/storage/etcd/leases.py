"""Leases for TTLs, shared between keys created close together.

TTLs are etcd leases, in whole seconds rounded up (etcd itself raises a TTL
below its minimum, 2 s with default timings). Leases are shared as
kube-apiserver's lease manager shares them: a lease granted for a TTL serves
new keys with the same TTL for ``min(60 s, 5 % of the TTL)`` after its grant,
and is granted that much longer, so thousands of Events make a handful of
leases. An entry thus lives between its TTL and its TTL plus that window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: kube-apiserver's lease manager: how long, at most, a granted lease is reused.
LEASE_REUSE_SECONDS = 60
LEASE_REUSE_FRACTION = 0.05
#: ... and for how many keys at most.
LEASE_MAX_ATTACHED = 1000


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
