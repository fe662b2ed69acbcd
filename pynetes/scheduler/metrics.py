"""The scheduler's Prometheus metrics, with upstream's names and labels.

Each Scheduler has its own registry, so several may run in one process
(tests, two profiles' worth of schedulers) without clashing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pynetes.scheduler.framework.status import Code, Status

SCHEDULED = "scheduled"
UNSCHEDULABLE = "unschedulable"
ERROR = "error"

#: Upstream's buckets: exponential from 1 ms, factor 2, 15 buckets.
_BUCKETS = tuple(0.001 * 2**i for i in range(15))
#: Upstream's extension point buckets: exponential from 0.1 ms, factor 2, 12 buckets.
_EXTENSION_POINT_BUCKETS = tuple(0.0001 * 2**i for i in range(12))


class SchedulerMetrics:
    """scheduler_schedule_attempts_total{result,profile},
    scheduler_scheduling_attempt_duration_seconds{result,profile},
    scheduler_scheduling_algorithm_duration_seconds,
    scheduler_framework_extension_point_duration_seconds{extension_point,status,profile}
    and scheduler_pending_pods{queue} (read from the queue when scraped).

    The last two split a cycle's time between filtering, scoring and binding,
    which is what a benchmark needs to see where the time goes. Unlike
    upstream, ``Filter`` is observed once per cycle (the whole filter loop),
    not per node: per-node observations would cost more than the filters.
    """

    def __init__(self, pending: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result.",
            ["result", "profile"],
            registry=self.registry,
        )
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.algorithm_duration = Histogram(
            "scheduler_scheduling_algorithm_duration_seconds",
            "Scheduling algorithm latency in seconds",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.extension_point_duration = Histogram(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point.",
            ["extension_point", "status", "profile"],
            buckets=_EXTENSION_POINT_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PendingPods(pending))

    def observe(self, result: str, profile: str, seconds: float) -> None:
        self.attempts.labels(result, profile).inc()
        self.attempt_duration.labels(result, profile).observe(seconds)

    def observe_extension_point(
        self, point: str, status: Status, profile: str, seconds: float
    ) -> None:
        """One run of every plugin of ``point`` (upstream's names: "Filter", "Bind"...)."""
        self.extension_point_duration.labels(point, status_label(status), profile).observe(seconds)


#: Upstream's Code.String(): "Success", "Unschedulable", "UnschedulableAndUnresolvable"...
_STATUS_LABELS = {
    code: "".join(word.capitalize() for word in code.name.split("_")) for code in Code
}


def status_label(status: Status) -> str:
    return _STATUS_LABELS[status.code]


class _PendingPods(Collector):
    def __init__(self, pending: Callable[[], dict[str, int]]) -> None:
        self._pending = pending

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "scheduler_pending_pods", "Number of pending pods, by the queue type.", labels=["queue"]
        )
        for queue, count in self._pending().items():
            family.add_metric([queue], count)
        yield family
