"""Kubelet benchmark: pod start-up latency on one node, and the kubelet's steady CPU.

    python bench/kubelet.py [--pods 100] [--steady 110] [--window 60]

Starts ``pynetes apiserver`` (SQLite) and ``pynetes kubelet`` (process runtime)
in processes of their own, then in one run:

1. the floor: ``--pods`` ``sleep`` processes spawned at once straight from
   asyncio in this process, each timed from the request to the process running;
2. the API floor: as many pods created here and marked Running by this process
   itself (a status PATCH, as a kubelet writes it), each timed from its POST to
   a watch here seeing it Running: what the API server and the watch cost;
3. the kubelet: ``--pods`` pods (one ``sleep`` container, ``spec.nodeName`` set,
   as the scheduler's binding leaves them), each timed from its POST until a
   watch here sees it Running with its container started: p50, p99 and the
   time until all run. Twice: all created at once, then created ``--rate`` per
   second (as upstream's pod start-up SLO is measured: at a creation rate), each
   next to the API floor made the same way. The kubelet's overhead per pod is
   what it adds to the API floor: (all running - API floor's all) / pods for the
   burst, p50 over the floor's p50 for the paced run;
4. steady state: ``--steady`` pods running, the kubelet's CPU over ``--window``
   seconds, as a share of one core.

Everything talks to 127.0.0.1 only; the benchmark deletes its pods and stops
its processes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apiserver import ServerProcess, free_port, percentiles, progress, start_apiserver
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import stop_containers

Object = dict[str, Any]
PODS = built_in("", "v1", "pods")
NODES = built_in("", "v1", "nodes")
NODE = "bench-node"
READY_TIMEOUT = 120.0


def pod(name: str, node: str) -> Object:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"bench": "kubelet"}},
        "spec": {
            "nodeName": node,
            # the kubelet's own work: no pod network (it waits for a podCIDR) and no
            # token volume (its ServiceAccount and CA come from controllers not run here)
            "hostNetwork": True,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


class RunningWatch:
    """The first moment (perf_counter) a watch here sees each pod Running and started."""

    def __init__(self, api: ApiClient) -> None:
        self.seen: dict[str, float] = {}
        self._expected: set[str] = set()
        self._all_seen = asyncio.Event()
        self._informer = Informer(api, PODS, label_selector="bench=kubelet")
        self._informer.add_event_handler(
            EventHandler(on_add=self._look, on_update=lambda _old, new: self._look(new))
        )

    def _look(self, found: Object) -> None:
        name = found["metadata"]["name"]
        if name in self.seen:
            return
        status = found.get("status") or {}
        containers = status.get("containerStatuses") or []
        if (
            status.get("phase") == "Running"
            and containers
            and all(c.get("started") for c in containers)
        ):
            self.seen[name] = time.perf_counter()
            if self._expected and self._expected.issubset(self.seen):
                self._all_seen.set()

    async def __aenter__(self) -> RunningWatch:
        self._informer.start()
        await self._informer.wait_for_sync()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._informer.stop()

    async def all_seen(self, names: list[str]) -> None:
        self._expected = set(names)
        if self._expected.issubset(self.seen):
            return
        async with asyncio.timeout(READY_TIMEOUT):
            await self._all_seen.wait()


async def spawn_floor(count: int) -> list[float]:
    """Seconds from asking asyncio for each ``sleep`` process to its running."""

    async def spawn() -> tuple[float, asyncio.subprocess.Process]:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec("sleep", "3600")
        return time.perf_counter() - started, process

    results = await asyncio.gather(*(spawn() for _ in range(count)))
    for _, process in results:
        process.kill()
        await process.wait()
    return [latency for latency, _ in results]


async def create_all(
    api: ApiClient, names: list[str], node: str, rate: float = 0.0
) -> dict[str, float]:
    """POST the pods, all at once (``rate`` 0) or ``rate`` per second; when each POST
    started."""
    posted: dict[str, float] = {}

    async def create(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        posted[name] = time.perf_counter()
        await api.create(PODS, pod(name, node))

    await asyncio.gather(
        *(create(name, index / rate if rate else 0.0) for index, name in enumerate(names))
    )
    return posted


async def api_floor(api: ApiClient, count: int, rate: float = 0.0) -> list[float]:
    """Pods on a node no kubelet runs, marked Running by this process: POST to watch."""
    names = [f"floor-{index}" for index in range(count)]
    running = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "app",
                "image": "busybox",
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }
    async with RunningWatch(api) as watch:
        posted: dict[str, float] = {}

        async def create_and_run(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            posted[name] = time.perf_counter()
            await api.create(PODS, pod(name, "no-kubelet"))
            await api.patch(
                PODS, name, {"status": running}, namespace="default", subresource="status"
            )

        await asyncio.gather(
            *(create_and_run(name, i / rate if rate else 0.0) for i, name in enumerate(names))
        )
        await watch.all_seen(names)
    await asyncio.gather(
        *(api.delete(PODS, name, namespace="default", grace_period_seconds=0) for name in names)
    )
    return [watch.seen[name] - posted[name] for name in names]


async def kubelet_latency(api: ApiClient, names: list[str], rate: float = 0.0) -> list[float]:
    async with RunningWatch(api) as watch:
        posted = await create_all(api, names, NODE, rate)
        await watch.all_seen(names)
    return [watch.seen[name] - posted[name] for name in names]


async def start_kubelet(kubeconfig: Path, directory: Path) -> ServerProcess:
    healthz = free_port()
    config = directory / "kubelet.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "port": free_port(),
                "healthzPort": healthz,
                "podLogsDir": str(directory / "pod-logs"),
                "maxPods": 250,
                "kubeAPIQPS": 10000,
                "kubeAPIBurst": 10000,
            }
        )
    )
    log = directory / "kubelet.log"
    command = [sys.executable, "-m", "pynetes", "kubelet", "--kubeconfig", str(kubeconfig)]
    command += [
        "--node-name",
        NODE,
        "--root-dir",
        str(directory / "kubelet"),
        "--config",
        str(config),
    ]
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output
        )
    return ServerProcess(process, f"http://127.0.0.1:{healthz}", log)


async def wait_for(check: Callable[[], Any], what: str) -> None:
    async with asyncio.timeout(READY_TIMEOUT):
        while True:
            if await check():
                break
            await asyncio.sleep(0.1)
    progress(what)


async def node_ready(api: ApiClient) -> bool:
    try:
        node = await api.get(NODES, NODE)
    except Exception:
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def clean_up(api: ApiClient, names: list[str]) -> None:
    """Delete the pods and wait until the kubelet has stopped them and let them go."""
    await asyncio.gather(*(api.delete(PODS, name, namespace="default") for name in names))

    async def all_gone() -> bool:
        listed = await api.list(PODS, namespace="default", label_selector="bench=kubelet")
        return not listed["items"]

    await wait_for(all_gone, "pods deleted by the kubelet")


def text(samples: list[float]) -> str:
    p50, p99 = percentiles(samples, 0.5, 0.99)
    return f"p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"


async def run(pods: int, steady: int, window: float, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="pynetes-bench-kubelet-") as folder:
        directory = Path(folder)
        server, kubeconfig = await start_apiserver(directory)
        kubelet = await start_kubelet(kubeconfig, directory)
        names = [f"pod-{index}" for index in range(steady)]
        try:
            async with ApiClient(dataclasses.replace(load_config(kubeconfig), qps=0)) as api:
                await wait_for(lambda: node_ready(api), "node Ready")
                spawn = await spawn_floor(pods)
                floor = await api_floor(api, pods)
                paced_floor = await api_floor(api, pods, rate)
                latencies = await kubelet_latency(api, names[:pods])
                progress(f"{pods} pods Running")
                await clean_up(api, names[:pods])
                paced = await kubelet_latency(api, names[:pods], rate)
                progress(f"{pods} pods Running, created {rate:g}/s")
                await kubelet_latency(api, names[pods:])
                progress(f"{steady} pods Running; settling 5 s")
                await asyncio.sleep(5)
                before = kubelet.cpu_seconds()
                await asyncio.sleep(window)
                cpu = (kubelet.cpu_seconds() - before) / window
                rss = kubelet.rss_mib()
                await clean_up(api, names)
        finally:
            await kubelet.stop()
            await stop_containers(directory / "kubelet")
            await server.stop()
    burst_overhead = (max(latencies) - max(floor)) / pods
    paced_overhead = percentiles(paced, 0.5)[0] - percentiles(paced_floor, 0.5)[0]
    print("\npod start-up on one node: POST -> Running, containers started, seen by a watch")
    print(f"  {pods} pods created at once")
    print(f"    kubelet (process runtime)   {text(latencies)}   all {max(latencies):.2f} s")
    print(f"    floor: API + watch only     {text(floor)}   all {max(floor):.2f} s")
    print(f"    floor: asyncio spawn only   {text(spawn)}   all {max(spawn):.2f} s")
    print(f"  {pods} pods created {rate:g}/s")
    print(f"    kubelet (process runtime)   {text(paced)}   target p99 < 1000 ms")
    print(f"    floor: API + watch only     {text(paced_floor)}")
    print("  kubelet overhead per pod (target < 100 ms):")
    print(f"    at once: (all running - API floor's all) / pods = {burst_overhead * 1000:.1f} ms")
    print(f"    paced: p50 over the API floor's p50 = {paced_overhead * 1000:.1f} ms")
    print(f"\nsteady state, {steady} pods running, {window:.0f} s window")
    print(f"  kubelet CPU {cpu * 100:.2f}% of one core   target < 5%;   RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--steady", type=int, default=110)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="pods/s of the paced run")
    arguments = parser.parse_args()
    steady = max(arguments.steady, arguments.pods)
    asyncio.run(run(arguments.pods, steady, arguments.window, arguments.rate))


if __name__ == "__main__":
    main()
