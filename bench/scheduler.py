"""Scheduler benchmark: scheduler_perf's workloads through the real API server.

    python bench/scheduler.py [--workload SchedulingBasic|TopologySpreading|
        SchedulingPodAntiAffinity] [--nodes N] [--init-pods N] [--pods N] [--quick]

Sizes default to upstream's 5000Nodes (``--quick``: 500Nodes) of each workload;
TopologySpreading's pods spread across zones with maxSkew 5 (DoNotSchedule),
SchedulingPodAntiAffinity's allow one pod per node (required anti-affinity).

Starts ``pynetes apiserver``, ``pynetes hollow-nodes`` (upstream's node-default
template: 4 CPU, 32Gi, 110 pods) and ``pynetes scheduler`` (client QPS 5000,
as scheduler_perf configures it), each in a process of its own. Then, as
SchedulingBasic: ``--init-pods`` pods are created and waited for, then
``--pods`` measured pods (upstream's pod-default template: one pause
container requesting 100m CPU and 500Mi) are created 64 at a time while a
watch notes when each gets its ``spec.nodeName``. Reported:

- pods/s from the first create to the last binding seen, and each pod's
  latency from its create request to its binding seen on the watch (p50/p99);
- CPU per pod of the scheduler, API server and hollow process (the machine is
  shared, so CPU per pod is steadier than wall-clock figures);
- first, the scheduler's own ceiling: as many cycles (snapshot, filter,
  score, assume) in the benchmark's process over the same nodes, no API;
- the split from the scheduler's own /metrics: PreFilter+Filter,
  PreScore+Score, the whole algorithm, and Bind (the Binding round trip);
- the floor, measured in the same run: as many pods each created (for no
  scheduler) and at once bound by a Binding POST issued from here, 64 pods
  in flight: the API's ceiling for the scheduler's traffic without its
  decisions; then creates alone and binds alone.

Everything talks to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apiserver import (
    NAMESPACE,
    ServerProcess,
    percentiles,
    progress,
    start_apiserver,
    start_component,
)
from bench.hollow import NAMESPACES, PODS, in_parallel, start_hollow
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.hollow.spec import generate_node_specs
from pynetes.hollow.status import node_object
from pynetes.scheduler.algorithm import Algorithm
from pynetes.scheduler.cache import SchedulerCache
from pynetes.scheduler.config import SchedulerConfiguration
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.runtime import Framework
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.plugins.registry import in_tree_registry

Object = dict[str, Any]

#: Upstream's node-default.yaml capacity, as hollow-nodes flags.
NODE_FLAGS = ("--cpu", "4", "--memory", "32Gi", "--pods", "110")
#: Upstream's pod-default.yaml spec.
POD_SPEC: Object = {
    "containers": [
        {
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "ports": [{"containerPort": 80}],
            "resources": {
                "limits": {"cpu": "100m", "memory": "500Mi"},
                "requests": {"cpu": "100m", "memory": "500Mi"},
            },
        }
    ]
}
SCHEDULER_CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  qps: 5000
  burst: 5000
"""
FLOOR_SCHEDULER = "bench-floor-nobody"
#: Extension points summed into each figure of the split.
SPLIT = (
    ("filter", ("PreFilter", "Filter")),
    ("score", ("PreScore", "Score")),
    ("bind (API round trip)", ("Bind",)),
)


class BindingWatch:
    """When this process first saw each pod of the namespace with a node."""

    def __init__(self, api: ApiClient) -> None:
        self.bound: dict[str, float] = {}
        self._waiting: tuple[int, asyncio.Event] | None = None
        self._informer = Informer(api, PODS, namespace=NAMESPACE)
        self._informer.add_event_handler(
            EventHandler(on_add=self._seen, on_update=lambda _old, new: self._seen(new))
        )

    async def start(self) -> None:
        self._informer.start()
        await self._informer.wait_for_sync()

    async def stop(self) -> None:
        await self._informer.stop()

    async def wait_for(self, count: int) -> None:
        """Until ``count`` pods in all have been seen bound."""
        if len(self.bound) >= count:
            return
        event = asyncio.Event()
        self._waiting = (count, event)
        await event.wait()

    def _seen(self, pod: Object) -> None:
        name = pod["metadata"]["name"]
        if name in self.bound or not (pod.get("spec") or {}).get("nodeName"):
            return
        self.bound[name] = time.perf_counter()
        if self._waiting is not None and len(self.bound) >= self._waiting[0]:
            self._waiting[1].set()


@dataclasses.dataclass
class Run:
    """A timed batch of pods: the wall time and, per pod, a time its producer
    names (when its create went out, or how long its requests took)."""

    count: int
    seconds: float
    per_pod: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Workload:
    """A scheduler_perf workload: the labels and spec of its pods."""

    name: str
    labels: dict[str, str]
    spec: Object
    #: (nodes, init pods, measured pods): upstream's 5000Nodes and 500Nodes sizes.
    full: tuple[int, int, int] = (5_000, 1_000, 5_000)
    quick: tuple[int, int, int] = (500, 500, 1_000)

    def pod(self, name: str, scheduler: str = "") -> Object:
        spec = {**self.spec, "schedulerName": scheduler} if scheduler else self.spec
        return {"metadata": {"name": name, "labels": self.labels}, "spec": spec}


def _zone_spread() -> Object:
    """upstream's pod-with-topology-spreading: maxSkew 5 across zones, DoNotSchedule."""
    constraint = {
        "maxSkew": 5,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"color": "blue"}},
    }
    return {**POD_SPEC, "topologySpreadConstraints": [constraint]}


def _host_anti_affinity() -> Object:
    """upstream's pod-with-pod-anti-affinity: one green pod per node at most."""
    term = {
        "labelSelector": {"matchLabels": {"color": "green"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {**POD_SPEC, "affinity": affinity}


WORKLOADS = {
    workload.name: workload
    for workload in (
        Workload("SchedulingBasic", {}, POD_SPEC),
        Workload("TopologySpreading", {"color": "blue"}, _zone_spread(), (5_000, 5_000, 2_000)),
        Workload(
            "SchedulingPodAntiAffinity",
            {"color": "green"},
            _host_anti_affinity(),
            (5_000, 1_000, 1_000),
            (500, 100, 400),
        ),
    )
}


async def create_pods(
    api: ApiClient, prefix: str, count: int, workload: Workload, scheduler: str = ""
) -> Run:
    """``count`` pods of ``workload``, 64 requests in flight."""
    sent: dict[str, float] = {}

    async def create(index: int) -> None:
        name = f"{prefix}-{index}"
        sent[name] = time.perf_counter()
        await api.create(PODS, workload.pod(name, scheduler), namespace=NAMESPACE)

    began = time.perf_counter()
    await in_parallel(count, create)
    return Run(count, time.perf_counter() - began, sent)


async def bind(api: ApiClient, name: str, node: str) -> None:
    """POST the Binding of pod ``name`` to ``node``, as the scheduler's binder does."""
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    await api.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/binding", body=body)


async def bind_pods(api: ApiClient, prefix: str, count: int, nodes: int) -> Run:
    """Bind ``prefix``-N pods round robin over the nodes; per pod, the round trip."""
    latencies: dict[str, float] = {}

    async def bind_one(index: int) -> None:
        began = time.perf_counter()
        await bind(api, f"{prefix}-{index}", f"hollow-{index % nodes}")
        latencies[f"{prefix}-{index}"] = time.perf_counter() - began

    began = time.perf_counter()
    await in_parallel(count, bind_one)
    return Run(count, time.perf_counter() - began, latencies)


async def create_and_bind(api: ApiClient, prefix: str, count: int, nodes: int) -> Run:
    """Each pod created then bound at once, 64 pods in flight: the scheduler's
    API traffic without its decisions. Per pod, create sent to bind answered."""
    latencies: dict[str, float] = {}
    spec = {**POD_SPEC, "schedulerName": FLOOR_SCHEDULER}

    async def one(index: int) -> None:
        name = f"{prefix}-{index}"
        began = time.perf_counter()
        await api.create(PODS, {"metadata": {"name": name}, "spec": spec}, namespace=NAMESPACE)
        await bind(api, name, f"hollow-{index % nodes}")
        latencies[name] = time.perf_counter() - began

    began = time.perf_counter()
    await in_parallel(count, one)
    return Run(count, time.perf_counter() - began, latencies)


async def start_scheduler(kubeconfig: Path, directory: Path) -> tuple[ServerProcess, str]:
    """The scheduler process and its /metrics address, once /healthz answers."""
    config = directory / "scheduler.yaml"
    config.write_text(SCHEDULER_CONFIG)
    arguments = ["--kubeconfig", str(kubeconfig), "--config", str(config)]
    scheduler = await start_component("scheduler", arguments, directory)
    return scheduler, f"{scheduler.url}/metrics"


async def scrape(url: str) -> dict[str, tuple[float, float]]:
    """(sum, count) of each duration histogram, by extension point or metric name."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    found: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith(("_sum", "_count")):
                continue
            key = sample.labels.get("extension_point") or family.name
            total, count = found.get(key, (0.0, 0.0))
            if sample.name.endswith("_sum"):
                total += sample.value
            else:
                count += sample.value
            found[key] = (total, count)
    return found


@dataclasses.dataclass
class Cpu:
    """CPU seconds of each process over a window."""

    processes: dict[str, ServerProcess]
    used: dict[str, float] = dataclasses.field(default_factory=dict)

    def __enter__(self) -> Cpu:
        self.used = {name: p.cpu_seconds() for name, p in self.processes.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {name: p.cpu_seconds() - self.used[name] for name, p in self.processes.items()}

    def per_pod(self, pods: int) -> str:
        return ", ".join(f"{name} {used * 1000 / pods:.2f}" for name, used in self.used.items())


def decisions(nodes: int, pods: int, workload: Workload) -> None:
    """The scheduler's own ceiling: ``pods`` cycles (snapshot, filter, score,
    assume) in this process over ``nodes`` hollow Nodes, no API at all."""
    specs = generate_node_specs(nodes, zones=["a", "b", "c"], cpu="4", memory="32Gi", pods="110")
    now = datetime.now(UTC)
    cache = SchedulerCache()
    for spec in specs:
        cache.add_node(node_object(spec, "127.0.0.1", now))
    config = SchedulerConfiguration()
    # The binder keeps the client but nothing here binds: no request is sent.
    snapshot, algorithm = Snapshot(), Algorithm()
    framework = Framework(
        config.profiles[0], in_tree_registry(), Handle(cast(ApiClient, object()), lambda: snapshot)
    )
    began = time.process_time()
    for index in range(pods):
        pod = workload.pod(f"d-{index}")
        pod["metadata"] = {**pod["metadata"], "namespace": NAMESPACE, "uid": f"d-{index}"}
        cache.update_snapshot(snapshot)
        outcome = algorithm.schedule(framework, CycleState(), pod, snapshot, 0)
        cache.assume_pod(pod, outcome.node or "")
    cpu = (time.process_time() - began) / pods
    print(
        f"  scheduler alone, in this process without the API: {cpu * 1000:.3f} CPU ms per pod"
        f" ({1 / cpu:,.0f} decisions/s on one CPU)"
    )


def latency_text(latencies: list[float]) -> str:
    p50, p99 = percentiles(latencies, 0.5, 0.99)
    return f"p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"


async def measure(
    api: ApiClient,
    watch: BindingWatch,
    processes: dict[str, ServerProcess],
    metrics: str,
    nodes: int,
    pods: int,
    workload: Workload,
) -> None:
    """The measured pods, then the figures with their floor."""
    before = await scrape(metrics)
    already = len(watch.bound)
    with Cpu(processes) as cpu:
        run = await create_pods(api, "measured", pods, workload)
        await watch.wait_for(already + pods)
    after = await scrape(metrics)
    last = max(watch.bound[name] for name in run.per_pod)
    wall = last - min(run.per_pod.values())
    latencies = [watch.bound[name] - sent for name, sent in run.per_pod.items()]
    print(f"  scheduled {pods:,} pods in {wall:.1f} s: {pods / wall:,.0f} pods/s")
    print(f"  latency (create sent -> binding seen): {latency_text(latencies)}")
    print(f"  CPU ms per pod: {cpu.per_pod(pods)}")
    print("  scheduler's split (ms per pod, from its /metrics):")
    for title, points in (
        *SPLIT,
        ("algorithm", ("scheduler_scheduling_algorithm_duration_seconds",)),
    ):
        total = sum(after.get(p, (0.0, 0.0))[0] - before.get(p, (0.0, 0.0))[0] for p in points)
        print(f"    {title:24} {total * 1000 / pods:7.3f}")
    progress(f"floor: {pods:,} pods created and bound directly, then as many of each alone")
    with Cpu({"apiserver": processes["apiserver"]}) as floor_cpu:
        both = await create_and_bind(api, "floor", pods, nodes)
    print(
        f"  floor, each pod created then bound from here: {pods / both.seconds:,.0f} pods/s"
        f"   {latency_text(list(both.per_pod.values()))}"
    )
    print(f"    CPU ms per pod: {floor_cpu.per_pod(pods)}")
    created = await create_pods(api, "unbound", pods, WORKLOADS["SchedulingBasic"], FLOOR_SCHEDULER)
    bound = await bind_pods(api, "unbound", pods, nodes)
    print(
        f"  floor, creates alone: {pods / created.seconds:,.0f} pods/s;"
        f" binds alone: {pods / bound.seconds:,.0f} binds/s"
        f"   {latency_text(list(bound.per_pod.values()))}"
    )


async def run(nodes: int, init_pods: int, pods: int, workload: Workload) -> None:
    print(f"{workload.name}: {nodes:,} nodes, {init_pods:,} init pods, {pods:,} measured pods")
    decisions(nodes, init_pods + pods, workload)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server, kubeconfig = await start_apiserver(directory)
        started: list[ServerProcess] = [server]
        try:
            progress(f"registering {nodes:,} hollow nodes")
            hollow, _ = await start_hollow(kubeconfig, nodes, directory / "hollow.log", NODE_FLAGS)
            started.append(hollow)
            progress("starting the scheduler")
            scheduler, metrics = await start_scheduler(kubeconfig, directory)
            started.append(scheduler)
            progress(f"scheduler pid {scheduler.process.pid} (for py-spy)")
            processes = {"scheduler": scheduler, "apiserver": server, "hollow": hollow}
            async with ApiClient(dataclasses.replace(load_config(kubeconfig), qps=0)) as api:
                await api.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
                watch = BindingWatch(api)
                await watch.start()
                progress(f"{init_pods:,} init pods")
                await create_pods(api, "init", init_pods, workload)
                await watch.wait_for(init_pods)
                progress(f"{pods:,} measured pods")
                await measure(api, watch, processes, metrics, nodes, pods, workload)
                await watch.stop()
        finally:
            for process in reversed(started):
                await process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, help="default: the workload's upstream size")
    parser.add_argument("--init-pods", type=int)
    parser.add_argument("--pods", type=int)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="SchedulingBasic")
    parser.add_argument("--quick", action="store_true", help="500 nodes, 500 + 1,000 pods")
    arguments = parser.parse_args()
    workload = WORKLOADS[arguments.workload]
    nodes, init_pods, pods = workload.quick if arguments.quick else workload.full
    asyncio.run(
        run(
            arguments.nodes or nodes,
            init_pods if arguments.init_pods is None else arguments.init_pods,
            arguments.pods or pods,
            workload,
        )
    )


if __name__ == "__main__":
    main()
