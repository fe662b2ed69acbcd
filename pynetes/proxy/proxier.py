"""The proxier: applies the tracker's map to a backend, as upstream's
BoundedFrequencyRunner drives its proxiers.

A change requests a sync; syncs are at least ``min_sync_period`` apart
(upstream's ``--min-sync-period``, 1 s: a change reaches the data path
within a second) and happen at least every ``sync_period`` (30 s) even
without a change, repairing what a failed sync left. Nothing is synced
before both informers have listed. A failed sync is logged and retried on
the next change or period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.proxy.metrics import ProxyMetrics
from pynetes.proxy.model import ProxyBackend
from pynetes.proxy.tracker import ChangeKind, ServiceTracker

log = logging.getLogger(__name__)


class Proxier:
    """Keeps ``backend`` in step with the Services and EndpointSlices of ``informers``."""

    def __init__(
        self,
        informers: SharedInformerFactory,
        backend: ProxyBackend,
        metrics: ProxyMetrics,
        *,
        min_sync_period: float = 1.0,
        sync_period: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = ServiceTracker(informers, on_change=self._changed)
        self.metrics = metrics
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self._backend = backend
        self._clock = clock
        self._requested = asyncio.Event()
        #: When the oldest change not yet applied was queued (monotonic), None if none.
        self._queued_at: float | None = None
        #: When a sync last succeeded (wall clock), None before the first.
        self.last_updated: float | None = None
        self.synced = asyncio.Event()

    @property
    def up_to_date(self) -> bool:
        """Synced at least once, and no change since the last sync."""
        return self.last_updated is not None and self._queued_at is None

    def healthy(self) -> bool:
        """Upstream's proxier health: synced once, and no change waiting longer than twice
        the sync period."""
        if self.last_updated is None:
            return False
        return self._queued_at is None or self._clock() - self._queued_at < 2 * self.sync_period

    async def run(self) -> None:
        """Sync until cancelled."""
        await self.tracker.wait_for_sync()
        while True:
            self._requested.clear()
            await self.sync()
            last = self._clock()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.sync_period):
                    await self._requested.wait()
            delay = last + self.min_sync_period - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)

    async def sync(self) -> None:
        """Apply the current map now."""
        start = self._clock()
        queued_at = self._queued_at
        self._queued_at = None
        for gauge in (self.metrics.endpoint_changes_pending, self.metrics.service_changes_pending):
            gauge.set(0)
        checkout = self.tracker.checkout()
        try:
            await self._backend.sync(checkout.services)
        except Exception:
            log.exception("sync failed; retrying on the next change or period")
            self._queued_at = queued_at if queued_at is not None else start
            return
        self.metrics.sync_duration.observe(self._clock() - start)
        self.last_updated = time.time()
        self.metrics.last_sync.set(self.last_updated)
        now = datetime.now(UTC)
        for trigger in checkout.trigger_times:
            self.metrics.network_programming.observe(max((now - trigger).total_seconds(), 0.0))
        log.debug("synced %d service ports in %.3fs", len(checkout.services), self._clock() - start)
        self.synced.set()

    def _changed(self, kind: ChangeKind) -> None:
        if kind == "service":
            self.metrics.service_changes.inc()
            self.metrics.service_changes_pending.inc()
        else:
            self.metrics.endpoint_changes.inc()
            self.metrics.endpoint_changes_pending.inc()
        self.metrics.last_queued.set(time.time())
        if self._queued_at is None:
            self._queued_at = self._clock()
        self._requested.set()
