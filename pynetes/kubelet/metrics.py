"""The kubelet's Prometheus metrics, by upstream's names (``/metrics`` on its API)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: upstream's buckets for pod start-up (0.5 s to 10 min).
START_BUCKETS = (0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600)


class KubeletMetrics:
    """What the pod machinery reports; each kubelet has its own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.running_pods = Gauge(
            "kubelet_running_pods",
            "Number of pods that have a running pod sandbox",
            registry=registry,
        )
        self.running_containers = Gauge(
            "kubelet_running_containers",
            "Number of containers currently running",
            ["container_state"],
            registry=registry,
        )
        self.pod_start_duration = Histogram(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod "
            "starting to run",
            buckets=START_BUCKETS,
            registry=registry,
        )
        self.pod_worker_duration = Histogram(
            "kubelet_pod_worker_duration_seconds",
            "Duration in seconds to sync a single pod",
            ["operation"],
            registry=registry,
        )
        self.started_containers = Counter(
            "kubelet_started_containers",
            "Cumulative number of containers started",
            ["container_type"],
            registry=registry,
        )
        self.started_containers_errors = Counter(
            "kubelet_started_containers_errors",
            "Cumulative number of errors when starting containers",
            ["code", "container_type"],
            registry=registry,
        )
