"""Zones: how disrupted each is, and the rate at which its nodes may be tainted NoExecute.

As upstream, nodes are grouped by region and zone labels. A zone with no
ready node is fully disrupted; one where more than two nodes and at least
``--unhealthy-zone-threshold`` of them are not ready is partially
disrupted. Tainting (and so evicting) goes at ``--node-eviction-rate``
nodes a second per zone; in a partially disrupted zone at
``--secondary-node-eviction-rate`` if it is larger than
``--large-cluster-size-threshold``, else not at all; and when every zone is
fully disrupted (the control plane, not the nodes, is likely cut off) the
controller stops tainting and lifts the taints it set.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from pynetes.client.flowcontrol import Clock, TokenBucket

Object = dict[str, Any]

REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
#: Nodes with this label count in no zone's disruption (upstream's labelNodeDisruptionExclusion).
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
#: Tokens a zone's tainter may save up (upstream's EvictionRateLimiterBurst).
EVICTION_BURST = 1


class ZoneState(enum.Enum):
    INITIAL = "Initial"
    NORMAL = "Normal"
    PARTIAL_DISRUPTION = "PartialDisruption"
    FULL_DISRUPTION = "FullDisruption"


def _first_label(labels: dict[str, str], keys: Sequence[str]) -> str:
    return next((labels[key] for key in keys if labels.get(key)), "")


def zone_key(node: Object) -> str:
    """The node's region and zone as one key (upstream's GetZoneKey); "" when unlabelled."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region, zone = _first_label(labels, REGION_LABELS), _first_label(labels, ZONE_LABELS)
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def excluded_from_disruption(node: Object) -> bool:
    return EXCLUDE_DISRUPTION_LABEL in ((node.get("metadata") or {}).get("labels") or {})


def zone_state(ready_statuses: Sequence[str | None], unhealthy_threshold: float) -> ZoneState:
    """The state of a zone whose nodes' Ready statuses are ``ready_statuses``."""
    ready = sum(1 for status in ready_statuses if status == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return ZoneState.FULL_DISRUPTION
    if not_ready > 2 and not_ready / len(ready_statuses) >= unhealthy_threshold:
        return ZoneState.PARTIAL_DISRUPTION
    return ZoneState.NORMAL


@dataclass(frozen=True)
class EvictionRates:
    """The flags that set how fast a zone's nodes may be tainted."""

    normal: float
    secondary: float
    large_cluster_size: int

    def rate(self, state: ZoneState, zone_size: int) -> float:
        """Nodes a second for a zone of ``zone_size`` nodes in ``state``."""
        if state is ZoneState.PARTIAL_DISRUPTION:
            return self.secondary if zone_size > self.large_cluster_size else 0.0
        return self.normal


class ZoneMetrics:
    """Upstream's ``node_collector_*`` families, labelled by zone key."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.health = Gauge(
            "node_collector_zone_health",
            "Gauge measuring percentage of healthy nodes per zone.",
            ["zone"],
            registry=registry,
        )
        self.size = Gauge(
            "node_collector_zone_size",
            "Gauge measuring number of registered Nodes per zones.",
            ["zone"],
            registry=registry,
        )
        self.unhealthy = Gauge(
            "node_collector_unhealthy_nodes_in_zone",
            "Gauge measuring number of not Ready Nodes per zones.",
            ["zone"],
            registry=registry,
        )
        self.evictions = Counter(
            "node_collector_evictions_total",
            "Number of Node evictions that happened since current instance of NodeController "
            "started.",
            ["zone"],
            registry=registry,
        )

    def observe(self, zone: str, ready_statuses: Sequence[str | None]) -> None:
        """Record a zone's size and health from its nodes' Ready statuses."""
        unhealthy = sum(1 for status in ready_statuses if status != "True")
        self.size.labels(zone).set(len(ready_statuses))
        self.unhealthy.labels(zone).set(unhealthy)
        self.health.labels(zone).set(100 * (len(ready_statuses) - unhealthy) / len(ready_statuses))

    def forget(self, zone: str) -> None:
        """A zone with no nodes left: empty and healthy, as upstream reports it."""
        self.size.labels(zone).set(0)
        self.unhealthy.labels(zone).set(0)
        self.health.labels(zone).set(100)


#: Taint one node; True when done (or no longer wanted), False to try again later.
TaintAction = Callable[[str], Awaitable[bool]]


class ZoneTainter:
    """The nodes of one zone waiting to be tainted NoExecute, let through at a rate.

    As upstream's RateLimitedTimedQueue: a node added stays known after it
    was tainted, so it is not tainted again (its taint keeps its time)
    until :meth:`remove` forgets it, when it recovers. Every attempt takes
    a token, a failed one included; a rate of 0 lets nothing through.
    """

    def __init__(self, rate: float, clock: Clock) -> None:
        self._clock = clock
        self._waiting: dict[str, None] = {}
        self._known: set[str] = set()
        self.rate = -1.0
        self._bucket: TokenBucket | None = None
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Let nodes through at ``rate`` a second from now on; an owed wait carries over."""
        if rate == self.rate:
            return
        starved = self._bucket is not None and not self._bucket.try_take()
        self.rate = rate
        self._bucket = TokenBucket(rate, EVICTION_BURST, clock=self._clock) if rate > 0 else None
        if starved and self._bucket is not None:
            self._bucket.try_take()

    def add(self, name: str) -> bool:
        """Queue ``name`` unless it is queued or was tainted already."""
        if name in self._known:
            return False
        self._known.add(name)
        self._waiting[name] = None
        return True

    def remove(self, name: str) -> bool:
        """Forget ``name``: it is no longer waiting, and may be queued again."""
        self._waiting.pop(name, None)
        if name in self._known:
            self._known.discard(name)
            return True
        return False

    async def let_through(self, taint: TaintAction) -> None:
        """Run ``taint`` on waiting nodes, oldest first, while tokens last."""
        for name in list(self._waiting):
            if self._bucket is None or not self._bucket.try_take():
                return
            if name not in self._waiting:
                continue
            done = await taint(name)
            if name not in self._waiting:
                continue  # removed while its taint was being written
            del self._waiting[name]
            if not done:
                self._waiting[name] = None  # to the back, for a later pass
