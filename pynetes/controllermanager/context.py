"""What every controller gets from the controller manager."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.events import EventRecorder
from pynetes.client.flowcontrol import Clock
from pynetes.client.rest import ApiClient
from pynetes.client.workqueue import RateLimiter, RateLimitingQueue, WorkqueueMetrics

K = TypeVar("K")


@dataclass
class ControllerContext:
    """The shared client, informers, metrics and clocks of one controller manager.

    ``options`` holds the parsed flags (every ``--concurrent-X-syncs`` and
    each controller's own flags, with upstream's defaults). ``clock`` is
    monotonic (queues, backoff); ``wall_clock`` is the time written into
    objects and compared with their timestamps (Lease renewals, cron
    schedules, TTLs); tests inject both.
    """

    client: ApiClient
    informers: SharedInformerFactory
    options: argparse.Namespace
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    clock: Clock = time.monotonic
    wall_clock: Clock = time.time
    _recorders: dict[str, EventRecorder] = field(default_factory=dict)
    _queue_metrics: WorkqueueMetrics | None = None

    def workers(self, option: str | None, default: int = 1) -> int:
        """The worker count the ``--concurrent-X-syncs`` option ``option`` asks for."""
        if option is None:
            return default
        return int(getattr(self.options, option, default))

    def queue(self, name: str, rate_limiter: RateLimiter | None = None) -> RateLimitingQueue[K]:
        """A rate limiting queue named ``name`` whose ``workqueue_*`` metrics are exported."""
        if self._queue_metrics is None:
            self._queue_metrics = WorkqueueMetrics(self.registry)
        return RateLimitingQueue(
            rate_limiter, name=name, metrics=self._queue_metrics, clock=self.clock
        )

    def recorder(self, component: str) -> EventRecorder:
        """The event recorder of ``component`` (one per name, closed with the manager).

        Controllers record without a reporting instance, as upstream's do.
        Events are stamped (and named) by the real time, not :attr:`wall_clock`:
        a test's frozen clock would give two Events one name.
        """
        recorder = self._recorders.get(component)
        if recorder is None:
            recorder = self._recorders[component] = EventRecorder(
                self.client, component, reporting_instance=""
            )
        return recorder

    async def close(self) -> None:
        """Flush and close the event recorders."""
        for recorder in self._recorders.values():
            await recorder.close()
        self._recorders.clear()
