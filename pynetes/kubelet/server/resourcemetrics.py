"""The kubelet's ``/metrics/resource``: the node's, pods' and containers' CPU and
memory, by upstream's stable metric names, each sample with the time it was read.

The API server's metrics.k8s.io (``kubectl top``) scrapes it, as metrics-server
scrapes upstream's kubelets: CPU comes as cumulative seconds, turned into a rate
between two scrapes; memory as the working set now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pynetes.kubelet import host
from pynetes.kubelet.runtime.interface import (
    CONTAINER_NAME_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    ContainerStats,
    RuntimeFailure,
    RuntimeService,
)

log = logging.getLogger(__name__)
_CONTAINER = ("container", "namespace", "pod")
_POD = ("namespace", "pod")


async def scrape(runtime: RuntimeService) -> bytes:
    """The Prometheus text of one scrape; a runtime that fails to report its containers
    leaves the node's figures and sets ``scrape_error``, as upstream's."""
    try:
        containers, failed = await runtime.list_container_stats(), False
    except RuntimeFailure as error:
        log.warning("reading the containers' usage: %s", error)
        containers, failed = [], True
    node_cpu, node_memory = await asyncio.to_thread(
        lambda: (host.cpu_nanoseconds(), host.memory_working_set_bytes())
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(containers, node_cpu, node_memory, time.time(), failed))
    return generate_latest(registry)


class _Scrape(Collector):
    def __init__(
        self,
        containers: list[ContainerStats],
        node_cpu_ns: int,
        node_memory: int,
        now: float,
        failed: bool,
    ) -> None:
        self._containers = containers
        self._node = (node_cpu_ns, node_memory)
        self._now = now
        self._failed = failed

    def collect(self) -> Iterator[Metric]:
        node_cpu = CounterMetricFamily(
            "node_cpu_usage_seconds_total",
            "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
        )
        node_cpu.add_metric([], self._node[0] / 1e9, timestamp=self._now)
        node_memory = GaugeMetricFamily(
            "node_memory_working_set_bytes",
            "[STABLE] Current working set of the node in bytes",
        )
        node_memory.add_metric([], self._node[1], timestamp=self._now)
        container_cpu = CounterMetricFamily(
            "container_cpu_usage_seconds_total",
            "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
            labels=_CONTAINER,
        )
        container_memory = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "[STABLE] Current working set of the container in bytes",
            labels=_CONTAINER,
        )
        pods: dict[tuple[str, str], list[ContainerStats]] = {}
        for container in self._containers:
            labels = container.labels
            pod = (labels.get(POD_NAMESPACE_LABEL, ""), labels.get(POD_NAME_LABEL, ""))
            pods.setdefault(pod, []).append(container)
            values = [labels.get(CONTAINER_NAME_LABEL, ""), *pod]
            stamp = container.timestamp / 1e9
            container_cpu.add_metric(
                values, container.cpu_usage_core_nanoseconds / 1e9, timestamp=stamp
            )
            container_memory.add_metric(values, container.memory_working_set_bytes, timestamp=stamp)
        pod_cpu = CounterMetricFamily(
            "pod_cpu_usage_seconds_total",
            "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
            labels=_POD,
        )
        pod_memory = GaugeMetricFamily(
            "pod_memory_working_set_bytes",
            "[STABLE] Current working set of the pod in bytes",
            labels=_POD,
        )
        for pod, members in pods.items():
            stamp = max(member.timestamp for member in members) / 1e9
            cpu = sum(member.cpu_usage_core_nanoseconds for member in members)
            pod_cpu.add_metric(list(pod), cpu / 1e9, timestamp=stamp)
            memory = sum(member.memory_working_set_bytes for member in members)
            pod_memory.add_metric(list(pod), memory, timestamp=stamp)
        scrape_error = GaugeMetricFamily(
            "scrape_error", "[ALPHA] 1 if there was an error while getting container metrics"
        )
        scrape_error.add_metric([], 1 if self._failed else 0)
        yield from (node_cpu, node_memory, container_cpu, container_memory, pod_cpu, pod_memory)
        yield scrape_error
