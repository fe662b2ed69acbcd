"""The repair loop: the stored allocations made equal to what the stored Services use.

upstream's ipallocator and portallocator repair controllers. A pass reads
the stored allocation of a range, then lists every Service (so a Service
written after the read cannot be missed: its allocation changed the entry,
and the compare-and-swap of the repaired entry fails), and stores:

* every value a Service uses (one that was not marked — a write lost, a
  range entry wiped — is marked again; a value two Services use is logged);
* values marked but used by no Service for fewer than
  :data:`PASSES_BEFORE_RELEASE` passes in a row: they may belong to a
  create still under way on this or another API server; after that they
  are leaks and freed.

A pass runs before the API server serves (so the allocations are derived
from the Services at every start, whatever the entry held, and a changed
range is taken up) and then every :data:`REPAIR_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pynetes.api.validation.services import cluster_ips, is_headless
from pynetes.apiserver.servicealloc.allocator import RangeAllocator
from pynetes.apiserver.servicealloc.services import ServiceAllocator, held_ports
from pynetes.apiserver.servicealloc.specs import needs_cluster_ip

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: upstream repairs every 3 minutes.
REPAIR_INTERVAL = 180.0
#: upstream's numRepairsBeforeLeakCleanup.
PASSES_BEFORE_RELEASE = 3


class AllocationRepair:
    """Repairs ``allocator``'s two ranges from the Services ``list_services`` returns."""

    def __init__(
        self,
        allocator: ServiceAllocator,
        list_services: Callable[[], Awaitable[list[Object]]],
        *,
        interval: float = REPAIR_INTERVAL,
    ) -> None:
        self._allocator = allocator
        self._list_services = list_services
        self._interval = interval
        self._leaks: dict[str, dict[int, int]] = {"ips": {}, "ports": {}}

    async def run_once(self) -> bool:
        """One pass over both ranges; False if another writer got in first (try later)."""
        ips = await self._repair(self._allocator.ips, "ips", _service_ips)
        ports = await self._repair(self._allocator.ports, "ports", _held_ports_of)
        return ips and ports

    async def run(self) -> None:
        """Repair every interval until cancelled; a failed pass is logged and retried."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:
                log.exception("repairing the Service address allocations")

    async def _repair(
        self,
        allocator: RangeAllocator[Any],
        name: str,
        used_by: Callable[[Object], Iterable[Any]],
    ) -> bool:
        snapshot = await allocator.read()
        services = await self._list_services()
        in_use: dict[int, str] = {}
        for service in services:
            who = _name(service)
            for value in used_by(service):
                offset = allocator.range.offset(value)
                if offset is None:
                    log.warning("Service %s uses %s, outside %s", who, value, allocator.range)
                elif offset in in_use:
                    log.warning("Service %s uses %s, as %s does", who, value, in_use[offset])
                else:
                    in_use[offset] = who
        same_range = snapshot.range == str(allocator.range)
        stored = snapshot.offsets if same_range else frozenset()
        for offset in set(in_use) - stored:
            log.info("%s at offset %d of %s is in use: marked again", name, offset, allocator.range)
        leaks = self._leaks[name]
        kept: set[int] = set()
        for offset in stored - set(in_use):
            passes = leaks.get(offset, 0) + 1
            if passes < PASSES_BEFORE_RELEASE:
                leaks[offset] = passes
                kept.add(offset)
            else:
                leaks.pop(offset, None)
                log.info("released leaked %s %s", name, allocator.range.value(offset))
        for offset in list(leaks):
            if offset not in kept:
                del leaks[offset]
        wanted = set(in_use) | kept
        if same_range and wanted == snapshot.offsets:
            return True
        return await allocator.replace(snapshot, wanted)


def _service_ips(service: Object) -> list[str]:
    spec = service.get("spec") or {}
    if not needs_cluster_ip(spec) or is_headless(spec):
        return []
    return cluster_ips(spec)


def _held_ports_of(service: Object) -> list[int]:
    return held_ports(service.get("spec") or {})


def _name(service: Object) -> str:
    metadata = service.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
