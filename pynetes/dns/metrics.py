"""The server's metrics, under CoreDNS's names and labels (its ``prometheus`` plugin),
so dashboards and alerts written for CoreDNS read them unchanged."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

#: CoreDNS's buckets for request durations (seconds).
DURATION_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512,
    1.024, 2.048, 4.096, 8.192,
)  # fmt: skip
#: The record types CoreDNS counts by name; any other is counted as "other".
MONITORED_TYPES = frozenset(
    {"A", "AAAA", "NS", "PTR", "SOA", "MX", "TXT", "SRV", "NAPTR", "CNAME", "DS", "HTTPS", "ANY"}
)


class DnsMetrics:
    """``coredns_dns_requests_total``, ``coredns_dns_responses_total`` and
    ``coredns_dns_request_duration_seconds`` in a registry of their own."""

    def __init__(self, server: str) -> None:
        self.registry = CollectorRegistry()
        self.server = server
        self.requests = Counter(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            ["server", "zone", "view", "proto", "family", "type"],
            registry=self.registry,
        )
        self.responses = Counter(
            "coredns_dns_responses",
            "Counter of response status codes.",
            ["server", "zone", "view", "rcode", "plugin"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            ["server", "zone", "view", "type"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, int, str, str, str], tuple[Any, Any, Any]] = {}

    def observe(
        self, *, proto: str, family: int, qtype: str, rcode: str, plugin: str, seconds: float
    ) -> None:
        """Count one request and its response (zone ".": the one server block)."""
        key = (proto, family, qtype, rcode, plugin)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labelled(*key)
        requests, responses, duration = children
        requests.inc()
        responses.inc()
        duration.observe(seconds)

    def _labelled(
        self, proto: str, family: int, qtype: str, rcode: str, plugin: str
    ) -> tuple[Any, Any, Any]:
        """The samples one kind of request counts in (looked up once: ``labels`` is
        slow next to a cached answer)."""
        qtype = qtype if qtype in MONITORED_TYPES else "other"
        return (
            self.requests.labels(self.server, ".", "", proto, str(family), qtype),
            self.responses.labels(self.server, ".", "", rcode, plugin),
            self.duration.labels(self.server, ".", "", qtype),
        )
