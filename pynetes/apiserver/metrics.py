"""Upstream's request metrics: ``apiserver_request_total`` and
``apiserver_request_duration_seconds``, with upstream's labels and buckets.

Counts are kept in plain dicts and turned into metric families only when
``/metrics`` is scraped (prometheus_client's custom-collector interface):
every observation happens on the event loop's thread, and the client
library's per-sample locks and label lookups cost 4% of a GET.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from pynetes.apiserver.auth.authorization import Attributes

_LABELS = ("verb", "group", "version", "resource", "subresource", "scope")
BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 10, 30, 60)
#: Requests that stream for as long as they last: counted, not timed (as upstream).
_UNTIMED_VERBS = frozenset({"watch", "proxy", "connect"})


class Metrics(Collector):
    """The server's request metrics, in a registry of their own (``registry``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests: dict[tuple[str, ...], int] = {}
        #: Per label values: the count in each bucket (not cumulative), +Inf last, then the sum.
        self._durations: dict[tuple[str, ...], list[float]] = {}
        self.registry.register(self)

    def observe(self, attributes: Attributes, code: int, seconds: float) -> None:
        scope = "cluster"
        if attributes.namespace:
            scope = "namespace"
        if attributes.name:
            scope = "resource"
        labels = (
            attributes.verb.upper(),
            attributes.api_group,
            attributes.api_version,
            attributes.resource,
            attributes.subresource,
            scope,
        )
        counted = (*labels, str(code))
        self._requests[counted] = self._requests.get(counted, 0) + 1
        if attributes.verb in _UNTIMED_VERBS:
            return
        histogram = self._durations.get(labels)
        if histogram is None:
            histogram = self._durations[labels] = [0.0] * (len(BUCKETS) + 2)
        histogram[bisect.bisect_left(BUCKETS, seconds)] += 1
        histogram[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, API resource and"
            " response code.",
            labels=(*_LABELS[:-1], "scope", "component", "code"),
        )
        for (*labels, code), count in self._requests.items():
            requests.add_metric([*labels, "apiserver", code], count)
        yield requests
        durations = HistogramMetricFamily(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource,"
            " subresource and scope.",
            labels=_LABELS,
        )
        for labels, histogram in self._durations.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip((*BUCKETS, float("inf")), histogram, strict=False):
                cumulative += count
                buckets.append((_bound_text(bound), cumulative))
            durations.add_metric(list(labels), buckets, sum_value=histogram[-1])
        yield durations


def _bound_text(bound: float) -> str:
    """``le`` as prometheus_client writes it: 0.005, 2.0, +Inf."""
    return "+Inf" if bound == float("inf") else repr(float(bound))
