"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, what ``kubectl top`` reads.

Upstream serves this group from metrics-server, behind the aggregation layer;
pynetes serves it from the API server, working as metrics-server does: it
scrapes each node's kubelet (``/metrics/resource``, through the client that
proxies logs and exec), keeps each node's last two scrapes, and answers with
CPU as the rate between them (``window`` is the time between them, in
nanocores) and memory as the last working set. Answers are never older than
:data:`RESOLUTION`: past it the nodes are scraped again first; a node without an
earlier scrape to compare with (the first request, or one after a quiet
spell longer than :data:`STALE`) is scraped a second time after
:data:`FIRST_WINDOW`. A node whose kubelet does not answer has no metrics, as
with metrics-server: ``kubectl top`` shows it as unknown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from pynetes.api import errors, labels, meta
from pynetes.api.duration import format_duration
from pynetes.api.resources import Resource
from pynetes.apiserver import readonly
from pynetes.apiserver.registry import ObjectStore

Object = dict[str, Any]
log = logging.getLogger(__name__)

GROUP_VERSION = "metrics.k8s.io/v1beta1"
NODE_METRICS = Resource(
    "metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=("get", "list"), stored=False
)
POD_METRICS = Resource(
    "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=("get", "list"), stored=False
)
#: metrics-server's default --metric-resolution.
RESOLUTION = 15.0
#: An earlier scrape older than this is no base for a rate.
STALE = 120.0
FIRST_WINDOW = 1.0
SCRAPE_TIMEOUT = 5.0
MAX_CONCURRENT_SCRAPES = 64

#: (namespace, pod, container) of a container's samples.
ContainerKey = tuple[str, str, str]


@dataclass(frozen=True)
class Usage:
    """One reading: when (seconds since the epoch), cumulative CPU seconds, memory bytes."""

    at: float
    cpu_seconds: float
    memory_bytes: float


@dataclass
class Scrape:
    """What one scrape of a kubelet read, and when (monotonic seconds)."""

    taken: float
    node: Usage | None = None
    containers: dict[ContainerKey, Usage] = field(default_factory=dict)


def parse_scrape(text: str, taken: float) -> Scrape:
    """A kubelet's ``/metrics/resource`` text, as readings."""
    cpu: dict[ContainerKey | None, tuple[float, float]] = {}
    memory: dict[ContainerKey | None, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key: ContainerKey | None = None
            if sample.name.startswith("container_"):
                values = sample.labels
                key = (values.get("namespace", ""), values.get("pod", ""), values["container"])
            elif not sample.name.startswith("node_"):
                continue
            if sample.name.endswith("_cpu_usage_seconds_total"):
                cpu[key] = (sample.timestamp or time.time(), sample.value)
            elif sample.name.endswith("_memory_working_set_bytes"):
                memory[key] = sample.value
    readings = {key: Usage(at, seconds, memory.get(key, 0.0)) for key, (at, seconds) in cpu.items()}
    node = readings.pop(None, None)
    return Scrape(taken, node, readings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rate:
    """Usage between two readings: CPU cores, memory bytes (the later reading's)."""

    at: float
    window: float
    cores: float
    memory_bytes: float


def rate(earlier: Usage, later: Usage) -> Rate | None:
    """None when the readings cannot give one (no time between them, or the counter
    went back: the container restarted)."""
    window = later.at - earlier.at
    if window <= 0 or later.cpu_seconds < earlier.cpu_seconds:
        return None
    cores = (later.cpu_seconds - earlier.cpu_seconds) / window
    return Rate(later.at, window, cores, later.memory_bytes)


Fetch = Callable[[str], Awaitable[str]]


class Scraper:
    """The last two scrapes of each node, refreshed when a request needs them."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._sleep = sleep
        self._scrapes: dict[str, list[Scrape]] = {}
        self._lock = asyncio.Lock()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_SCRAPES)

    async def pairs(self, nodes: Iterable[str]) -> dict[str, tuple[Scrape, Scrape]]:
        """Each node's two latest scrapes, the later at most RESOLUTION old."""
        nodes = list(nodes)
        async with self._lock:
            now = self._clock()
            due = [name for name in nodes if not self._recent(name, now)]
            await self._scrape_all(due)
            now = self._clock()
            first = [name for name in due if not self._comparable(name, now)]
            if first:
                await self._sleep(FIRST_WINDOW)
                await self._scrape_all(first)
            now = self._clock()
            return {
                name: (self._scrapes[name][0], self._scrapes[name][1])
                for name in nodes
                if self._comparable(name, now)
            }

    def _recent(self, name: str, now: float) -> bool:
        scrapes = self._scrapes.get(name)
        return bool(scrapes) and now - scrapes[-1].taken < RESOLUTION

    def _comparable(self, name: str, now: float) -> bool:
        scrapes = self._scrapes.get(name) or []
        return len(scrapes) == 2 and now - scrapes[0].taken < STALE

    async def _scrape_all(self, names: list[str]) -> None:
        await asyncio.gather(*(self._scrape(name) for name in names))

    async def _scrape(self, name: str) -> None:
        async with self._limit:
            try:
                text = await asyncio.wait_for(self._fetch(name), SCRAPE_TIMEOUT)
            except (OSError, aiohttp.ClientError, TimeoutError, errors.ApiError) as error:
                log.debug("scraping node %s: %s", name, error)
                self._scrapes.pop(name, None)
                return
        scrape = parse_scrape(text, self._clock())
        self._scrapes[name] = [*self._scrapes.get(name, [])[-1:], scrape]

    def forget_except(self, names: set[str]) -> None:
        """Drop the scrapes of nodes that are gone."""
        for name in list(self._scrapes):
            if name not in names:
                del self._scrapes[name]


class MetricsApi:
    """GET and LIST of NodeMetrics and PodMetrics."""

    def __init__(self, scraper: Scraper, nodes: ObjectStore, pods: ObjectStore) -> None:
        self._scraper = scraper
        self._nodes = nodes
        self._pods = pods

    async def serve(
        self, request: web.BaseRequest, resource: Resource, namespace: str, name: str
    ) -> web.StreamResponse:
        readonly.refuse_all_but_reads(request)
        selector = labels.parse_label_selector(request.query.get("labelSelector", ""))
        if resource == NODE_METRICS:
            items = await self._node_metrics(name, selector)
        else:
            items = await self._pod_metrics(namespace, name, selector)
        if name and not items:
            raise errors.not_found_error("metrics.k8s.io", resource.kind.lower(), name)
        kind = {"kind": resource.kind, "apiVersion": GROUP_VERSION}
        return readonly.answer(request, resource, [{**kind, **item} for item in items], name=name)

    async def _node_metrics(self, name: str, selector: labels.Selector) -> list[Object]:
        nodes = [
            cached.obj
            for cached in self._nodes.cache.iterate(self._nodes.key_prefix(""))
            if (not name or meta.name_of(cached.obj) == name)
            and selector.matches(cached.obj["metadata"].get("labels"))
        ]
        if not name:
            self._scraper.forget_except({meta.name_of(node) for node in nodes})
        pairs = await self._scraper.pairs(meta.name_of(node) for node in nodes)
        items = []
        for node in nodes:
            pair = pairs.get(meta.name_of(node))
            found = pair and pair[0].node and pair[1].node and rate(pair[0].node, pair[1].node)
            if found:
                items.append({**_metadata(node), **_reading(found), "usage": _usage(found)})
        return items

    async def _pod_metrics(
        self, namespace: str, name: str, selector: labels.Selector
    ) -> list[Object]:
        pods = [
            cached.obj
            for cached in self._pods.cache.iterate(self._pods.key_prefix(namespace))
            if (not name or meta.name_of(cached.obj) == name)
            and (cached.obj.get("spec") or {}).get("nodeName")
            and selector.matches(cached.obj["metadata"].get("labels"))
        ]
        pairs = await self._scraper.pairs({pod["spec"]["nodeName"] for pod in pods})
        items = []
        for pod in pods:
            pair = pairs.get(pod["spec"]["nodeName"])
            if pair is None:
                continue
            containers, latest = [], None
            for container in pod["spec"].get("containers") or []:
                key = (meta.namespace_of(pod), meta.name_of(pod), container.get("name", ""))
                earlier, later = pair[0].containers.get(key), pair[1].containers.get(key)
                found = earlier and later and rate(earlier, later)
                if found:
                    containers.append({"name": key[2], "usage": _usage(found)})
                    latest = found
            if latest is not None:
                items.append({**_metadata(pod), **_reading(latest), "containers": containers})
        return items


def _metadata(obj: Object) -> Object:
    source = obj["metadata"]
    metadata: Object = {"name": source["name"]}
    if source.get("namespace"):
        metadata["namespace"] = source["namespace"]
    metadata["creationTimestamp"] = meta.timestamp(meta.utc_now())
    if source.get("labels"):
        metadata["labels"] = source["labels"]
    return {"metadata": metadata}


def _reading(found: Rate) -> Object:
    moment = datetime.fromtimestamp(int(found.at), UTC)
    return {"timestamp": meta.timestamp(moment), "window": format_duration(round(found.window, 3))}


def _usage(found: Rate) -> Object:
    return {"cpu": f"{round(found.cores * 1e9)}n", "memory": binary_quantity(found.memory_bytes)}


def binary_quantity(value: float) -> str:
    """Bytes as a Quantity's canonical binary form: ``1626332Ki``, ``2Gi``, ``1000``."""
    number = round(value)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = 1024 ** ("KMGTPE".index(suffix[0]) + 1)
        if number and number % unit == 0:
            return f"{number // unit}{suffix}"
    return str(number)
