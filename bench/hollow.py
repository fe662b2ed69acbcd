"""Hollow nodes benchmark: 5,000 fake nodes against one API server, then 2,000 pods on them.

    python bench/hollow.py [--nodes 5000] [--pods 2000] [--quick]

Starts ``pynetes apiserver`` (SQLite) and ``pynetes hollow-nodes`` in
processes of their own and reports:

- the time to register every node (Node with status, and its Lease), from
  starting the hollow process until it says all are registered;
- steady state, while only Leases renew (every node every 10 s): the CPU
  each process uses, the renewals/s a watch on the Leases sees, and the peak
  RSS of both;
- pods: ``--pods`` unbound pods are bound through the Binding subresource
  (as a scheduler binds, 64 at a time), and the time until an informer here
  sees every one Running. Each pod costs two writes (the binding, then the
  hollow kubelet's status patch); the floor is as many plain configmap
  updates (two per pod) through the same client, at the same concurrency.

Everything talks to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apiserver import NAMESPACE, ServerProcess, progress, start_apiserver
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient

PODS = built_in("", "v1", "pods")
LEASES = built_in("coordination.k8s.io", "v1", "leases")
CONFIGMAPS = built_in("", "v1", "configmaps")
NAMESPACES = built_in("", "v1", "namespaces")
CONCURRENCY = 64
REGISTERED = "hollow nodes registered in"
LEASE_PERIOD = 10.0


async def start_hollow(
    config: Path, nodes: int, log: Path, extra: tuple[str, ...] = ()
) -> tuple[ServerProcess, float]:
    """The hollow process, once it reports every node registered, and how long that took.

    ``extra``: further ``pynetes hollow-nodes`` flags (capacity, labels...).
    """
    command = [sys.executable, "-m", "pynetes", "hollow-nodes", "--kubeconfig", str(config)]
    command += ["--count", str(nodes), "--zones", "a,b,c", *extra]
    began = time.perf_counter()
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output
        )
    hollow = ServerProcess(process, "", log)
    while REGISTERED not in (text := await asyncio.to_thread(log.read_text)):
        if process.returncode is not None:
            raise RuntimeError(f"hollow-nodes exited: {text[-2000:]}")
        await asyncio.sleep(0.1)
    return hollow, time.perf_counter() - began


@dataclasses.dataclass
class Steady:
    seconds: float
    renewals: int
    hollow_cpu: float
    server_cpu: float


async def steady_state(
    api: ApiClient, hollow: ServerProcess, server: ServerProcess, seconds: float
) -> Steady:
    """CPU of both processes and the renewals a Lease watch sees, over ``seconds``."""
    renewals = 0

    def renewed(_old: object, _new: object) -> None:
        nonlocal renewals
        renewals += 1

    leases = Informer(api, LEASES, namespace="kube-node-lease")
    leases.add_event_handler(EventHandler(on_update=renewed))
    leases.start()
    await leases.wait_for_sync()
    renewals = 0
    hollow_before, server_before = hollow.cpu_seconds(), server.cpu_seconds()
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - began
    steady = Steady(
        wall,
        renewals,
        (hollow.cpu_seconds() - hollow_before) / wall,
        (server.cpu_seconds() - server_before) / wall,
    )
    await leases.stop()
    return steady


async def bind_pods(api: ApiClient, nodes: int, pods: int) -> tuple[float, float]:
    """Create ``pods`` unbound pods, bind them round robin; (seconds binding, seconds until
    every one is seen Running)."""
    await api.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
    template = {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}
    await in_parallel(
        pods,
        lambda i: api.create(
            PODS, {**template, "metadata": {"name": f"p-{i}"}}, namespace=NAMESPACE
        ),
    )
    running: set[str] = set()
    everyone = asyncio.Event()

    def seen(_old: object, pod: dict) -> None:  # type: ignore[type-arg]
        if (pod.get("status") or {}).get("phase") == "Running":
            running.add(pod["metadata"]["name"])
            if len(running) == pods:
                everyone.set()

    informer = Informer(api, PODS, namespace=NAMESPACE)
    informer.add_event_handler(EventHandler(on_update=seen))
    informer.start()
    await informer.wait_for_sync()

    async def bind(index: int) -> None:
        name = f"p-{index}"
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}}
        binding["target"] = {"apiVersion": "v1", "kind": "Node", "name": f"hollow-{index % nodes}"}
        path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/binding"
        await api.request("POST", path, body=binding)

    began = time.perf_counter()
    await in_parallel(pods, bind)
    bound = time.perf_counter() - began
    await everyone.wait()
    all_running = time.perf_counter() - began
    await informer.stop()
    return bound, all_running


async def configmap_floor(api: ApiClient, updates: int) -> float:
    """Seconds for ``updates`` merge patches of configmaps at the same concurrency."""
    names = [f"floor-{i}" for i in range(CONCURRENCY)]
    for name in names:
        await api.create(CONFIGMAPS, {"metadata": {"name": name}}, namespace=NAMESPACE)
    began = time.perf_counter()
    await in_parallel(
        updates,
        lambda i: api.patch(
            CONFIGMAPS, names[i % CONCURRENCY], {"data": {"n": str(i)}}, namespace=NAMESPACE
        ),
    )
    return time.perf_counter() - began


async def in_parallel(count: int, send) -> None:  # type: ignore[no-untyped-def]
    async def worker(first: int) -> None:
        for index in range(first, count, CONCURRENCY):
            await send(index)

    await asyncio.gather(*(worker(first) for first in range(CONCURRENCY)))


async def run(nodes: int, pods: int, window: float) -> None:
    print(f"hollow nodes benchmark: {nodes:,} nodes, {pods:,} pods")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server, config = await start_apiserver(directory)
        hollow: ServerProcess | None = None
        try:
            progress(f"registering {nodes:,} nodes")
            hollow, registration = await start_hollow(config, nodes, directory / "hollow.log")
            client_config = dataclasses.replace(load_config(config), qps=0)
            async with ApiClient(client_config) as api:
                progress(f"settling for one lease period, then measuring {window:.0f} s")
                await asyncio.sleep(LEASE_PERIOD)
                steady = await steady_state(api, hollow, server, window)
                progress(f"binding {pods:,} pods")
                bound, all_running = await bind_pods(api, nodes, pods)
                floor = await configmap_floor(api, 2 * pods)
            print_figures(nodes, pods, registration, steady, bound, all_running, floor)
            print(
                f"  peak RSS: hollow {hollow.rss_mib('VmHWM'):.0f} MiB,"
                f" apiserver {server.rss_mib('VmHWM'):.0f} MiB"
            )
        finally:
            if hollow is not None:
                await hollow.stop()
            await server.stop()


def print_figures(
    nodes: int,
    pods: int,
    registration: float,
    steady: Steady,
    bound: float,
    all_running: float,
    floor: float,
) -> None:
    print(f"  register {nodes:,} nodes: {registration:.1f} s ({nodes / registration:,.0f} nodes/s)")
    print(
        f"  steady state ({steady.seconds:.0f} s): {steady.renewals / steady.seconds:,.0f}"
        f" lease renewals/s [expected {nodes / LEASE_PERIOD:,.0f}]"
        f"   CPU: hollow {steady.hollow_cpu:.0%}, apiserver {steady.server_cpu:.0%}"
    )
    print(
        f"  {pods:,} pods bound in {bound:.1f} s; all Running after {all_running:.1f} s"
        f" ({pods / all_running:,.0f} pods/s)"
    )
    print(
        f"  floor: {2 * pods:,} configmap patches (2 writes a pod) in {floor:.1f} s"
        f" ({pods / floor:,.0f} pods/s equivalent)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=5_000)
    parser.add_argument("--pods", type=int, default=2_000)
    parser.add_argument("--window", type=float, default=30.0, help="steady-state seconds")
    parser.add_argument("--quick", action="store_true", help="500 nodes, 200 pods, 10 s")
    arguments = parser.parse_args()
    if arguments.quick:
        asyncio.run(run(500, 200, 10.0))
    else:
        asyncio.run(run(arguments.nodes, arguments.pods, arguments.window))


if __name__ == "__main__":
    main()
