"""Work queue metrics: client-go's queue hooks and its Prometheus families.

A queue calls four hooks as items move (:class:`QueueMetrics`); the base
class records nothing, as client-go's default provider, so unnamed queues
and tests pay nothing. :class:`WorkqueueMetrics` registers upstream's
families (``workqueue_depth``, ``workqueue_adds_total``, ...) once in a
registry, each labelled by queue ``name``, and hands every named queue the
hooks that feed them.
"""

from __future__ import annotations

from collections.abc import Hashable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pynetes.client.flowcontrol import Clock

#: client-go's ExponentialBuckets(10e-9, 10, 10): 10 ns to 10 s.
DURATION_BUCKETS = (1e-08, 1e-07, 1e-06, 1e-05, 1e-04, 1e-03, 0.01, 0.1, 1.0, 10.0)


class QueueMetrics:
    """The hooks a queue calls; this base records nothing.

    ``add`` is called when a key becomes dirty (not for a deduplicated add),
    ``get`` when a worker takes it, ``done`` when the worker gives it back,
    ``retry`` for every delayed add (client-go counts each AddAfter).
    """

    def add(self, key: Hashable) -> None:
        """A key was queued."""

    def get(self, key: Hashable) -> None:
        """A worker took a key."""

    def done(self, key: Hashable) -> None:
        """A worker finished with a key."""

    def retry(self) -> None:
        """A key was added with a delay."""


NO_METRICS = QueueMetrics()


class WorkqueueMetrics:
    """Upstream's work queue families in ``registry``, one label set per queue name.

    Create one per registry (a registry refuses a family twice) and pass it
    to every queue that should be measured.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["name"]
        self.depth = Gauge(
            "workqueue_depth", "Current depth of workqueue", labels, registry=registry
        )
        self.adds = Counter(
            "workqueue_adds_total",
            "Total number of adds handled by workqueue",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.unfinished_work = Gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has done that is in progress and hasn't been observed"
            " by work_duration. Large values indicate stuck threads. One can deduce the number"
            " of stuck threads by observing the rate at which this increases.",
            labels,
            registry=registry,
        )
        self.longest_running = Gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels,
            registry=registry,
        )
        self.retries = Counter(
            "workqueue_retries_total",
            "Total number of retries handled by workqueue",
            labels,
            registry=registry,
        )

    def for_queue(self, name: str, clock: Clock) -> QueueMetrics:
        """The hooks of queue ``name``; an unnamed queue is not measured, as upstream."""
        if not name:
            return NO_METRICS
        return _PrometheusQueueMetrics(self, name, clock)


class _PrometheusQueueMetrics(QueueMetrics):
    """One queue's hooks: times keys between add, get and done with ``clock``.

    The two unfinished-work gauges are computed when scraped instead of by
    client-go's 500 ms update loop, so no task has to run for them.
    """

    def __init__(self, families: WorkqueueMetrics, name: str, clock: Clock) -> None:
        self._clock = clock
        self._depth = families.depth.labels(name)
        self._adds = families.adds.labels(name)
        self._latency = families.latency.labels(name)
        self._work_duration = families.work_duration.labels(name)
        self._retries = families.retries.labels(name)
        self._added_at: dict[Hashable, float] = {}
        self._started_at: dict[Hashable, float] = {}
        families.unfinished_work.labels(name).set_function(self._unfinished_seconds)
        families.longest_running.labels(name).set_function(self._longest_running_seconds)

    def add(self, key: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(key, self._clock())

    def get(self, key: Hashable) -> None:
        now = self._clock()
        self._depth.dec()
        self._started_at[key] = now
        added_at = self._added_at.pop(key, None)
        if added_at is not None:
            self._latency.observe(now - added_at)

    def done(self, key: Hashable) -> None:
        started_at = self._started_at.pop(key, None)
        if started_at is not None:
            self._work_duration.observe(self._clock() - started_at)

    def retry(self) -> None:
        self._retries.inc()

    def _unfinished_seconds(self) -> float:
        now = self._clock()
        return sum(now - started_at for started_at in self._started_at.values())

    def _longest_running_seconds(self) -> float:
        now = self._clock()
        return max((now - started_at for started_at in self._started_at.values()), default=0.0)
