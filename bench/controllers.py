"""Controller-manager benchmark: Deployments through the whole control plane.

    python bench/controllers.py [--replicas 5000] [--rollout 1000] [--nodes 100] [--quick]

Starts ``pynetes apiserver``, ``pynetes hollow-nodes`` (each node 4 CPU,
32Gi, 110 pods), ``pynetes scheduler`` and ``pynetes controller-manager``
(the deployment, replicaset and garbagecollector controllers, client QPS
5000), each in a
process of its own. Then, in one run:

1. a Deployment scaled from 0 to ``--replicas`` until every replica is
   Available (``status.availableReplicas``), with pods/s end to end;
2. a Deployment of ``--rollout`` replicas, once Available, gets a new
   template; the time until its rollout is complete by kubectl's rule
   (observedGeneration caught up, every replica updated and available, no
   old replica left), with pods/s (each pod replaced once).

CPU seconds of each process over each phase give the controllers' share.
The floor, measured in the same run on the same processes: as many bare pods
created by this process (64 requests in flight), scheduled and run by the
same scheduler and hollow nodes, until all are Ready: what the control
plane costs without the controllers.

Everything talks to 127.0.0.1 only and stops by itself.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apiserver import NAMESPACE, ServerProcess, progress, start_apiserver, start_component
from bench.hollow import NAMESPACES, PODS, in_parallel, start_hollow
from bench.scheduler import Cpu, start_scheduler
from pynetes.api.pods import is_ready
from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient

Object = dict[str, Any]
DEPLOYMENTS = built_in("apps", "v1", "deployments")
NODE_FLAGS = ("--cpu", "4", "--memory", "32Gi", "--pods", "110")
POD_SPEC: Object = {
    "containers": [
        {
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}},
        }
    ]
}


def deployment(name: str, replicas: int) -> Object:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": POD_SPEC},
        },
    }


async def start_controller_manager(kubeconfig: Path, directory: Path) -> ServerProcess:
    """The controller-manager process (deployment, replicaset and the garbage collector,
    which removes a deleted Deployment's ReplicaSets and pods), once /healthz answers."""
    arguments = ["--kubeconfig", str(kubeconfig), "--leader-elect=false"]
    arguments += ["--controllers=deployment,replicaset,garbagecollector", "--kube-api-qps=5000"]
    arguments += ["--kube-api-burst=5000"]
    return await start_component("controller-manager", arguments, directory)


class Watched:
    """The latest state of the objects of one resource in the namespace, and waits on it."""

    def __init__(self, api: ApiClient, resource: Any) -> None:
        self.informer = Informer(api, resource, namespace=NAMESPACE)
        #: Names of the objects whose Ready condition is True (pods), kept per event so
        #: that waiting on thousands of pods costs O(1) per event, not a scan.
        self.ready: set[str] = set()
        self._conditions: list[tuple[Callable[[], bool], asyncio.Event]] = []
        self.informer.add_event_handler(
            EventHandler(
                on_add=self._changed,
                on_update=lambda _o, new: self._changed(new),
                on_delete=self._deleted,
            )
        )

    def _changed(self, obj: Object) -> None:
        if is_ready(obj):
            self.ready.add(obj["metadata"]["name"])
        else:
            self.ready.discard(obj["metadata"]["name"])
        self._check()

    def _deleted(self, obj: Object) -> None:
        self.ready.discard(obj["metadata"]["name"])
        self._check()

    def empty(self) -> bool:
        return len(self.informer.store) == 0

    async def start(self) -> None:
        self.informer.start()
        await self.informer.wait_for_sync()

    async def until(self, condition: Callable[[], bool]) -> None:
        if condition():
            return
        event = asyncio.Event()
        self._conditions.append((condition, event))
        await event.wait()

    def _check(self) -> None:
        for condition, event in list(self._conditions):
            if condition():
                event.set()
                self._conditions.remove((condition, event))


def available(deployments: Watched, name: str, replicas: int) -> Callable[[], bool]:
    def check() -> bool:
        found = deployments.informer.store.get(f"{NAMESPACE}/{name}")
        return (
            found is not None
            and (found.get("status") or {}).get("availableReplicas", 0) >= replicas
        )

    return check


def rolled_out(deployments: Watched, name: str, generation: int) -> Callable[[], bool]:
    """kubectl rollout status's rule for a finished rollout of ``generation``."""

    def check() -> bool:
        found = deployments.informer.store.get(f"{NAMESPACE}/{name}")
        if found is None:
            return False
        status, replicas = found.get("status") or {}, found["spec"]["replicas"]
        return (
            status.get("observedGeneration", 0) >= generation
            and status.get("updatedReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
        )

    return check


@dataclasses.dataclass
class Phase:
    name: str
    pods: int
    seconds: float
    cpu: Cpu

    def line(self) -> str:
        shares = ", ".join(
            f"{name} {used:.1f} s ({used / self.seconds:.0%})"
            for name, used in self.cpu.used.items()
        )
        return (
            f"  {self.name}: {self.seconds:.1f} s, {self.pods / self.seconds:,.0f} pods/s;"
            f" CPU {shares}"
        )


async def timed(
    name: str, pods: int, processes: dict[str, ServerProcess], work: Callable[[], Any]
) -> Phase:
    with Cpu(processes) as cpu:
        began = time.perf_counter()
        await work()
        seconds = time.perf_counter() - began
    return Phase(name, pods, seconds, cpu)


async def run(nodes: int, replicas: int, rollout: int) -> None:
    print(
        f"controllers benchmark: {nodes:,} hollow nodes, {replicas:,} replicas, rollout {rollout:,}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server, kubeconfig = await start_apiserver(directory)
        started: list[ServerProcess] = [server]
        try:
            progress(f"registering {nodes:,} hollow nodes")
            hollow, _ = await start_hollow(kubeconfig, nodes, directory / "hollow.log", NODE_FLAGS)
            started.append(hollow)
            scheduler, _ = await start_scheduler(kubeconfig, directory)
            started.append(scheduler)
            manager = await start_controller_manager(kubeconfig, directory)
            started.append(manager)
            processes = {
                "controller-manager": manager,
                "apiserver": server,
                "scheduler": scheduler,
                "hollow": hollow,
            }
            async with ApiClient(dataclasses.replace(load_config(kubeconfig), qps=0)) as api:
                phases = await measure(api, processes, replicas, rollout)
            for phase in phases:
                print(phase.line())
            print(f"  peak RSS: controller-manager {manager.rss_mib('VmHWM'):.0f} MiB")
        finally:
            for process in reversed(started):
                await process.stop()


async def measure(
    api: ApiClient, processes: dict[str, ServerProcess], replicas: int, rollout: int
) -> list[Phase]:
    await api.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
    deployments, pods = Watched(api, DEPLOYMENTS), Watched(api, PODS)
    await deployments.start()
    await pods.start()
    phases = []

    progress(f"floor: {replicas:,} bare pods until Ready")

    async def bare_pods() -> None:
        await in_parallel(
            replicas,
            lambda i: api.create(
                PODS, {"metadata": {"name": f"bare-{i}"}, "spec": POD_SPEC}, namespace=NAMESPACE
            ),
        )
        await pods.until(lambda: len(pods.ready) >= replicas)

    phases.append(await timed("floor: bare pods Ready", replicas, processes, bare_pods))
    path = f"/api/v1/namespaces/{NAMESPACE}/pods"
    await api.request("DELETE", path, params={"gracePeriodSeconds": 0})
    await pods.until(pods.empty)

    progress(f"scaling a Deployment from 0 to {replicas:,}")
    await api.create(DEPLOYMENTS, deployment("big", 0), namespace=NAMESPACE)

    async def scale_up() -> None:
        await api.patch(DEPLOYMENTS, "big", {"spec": {"replicas": replicas}}, namespace=NAMESPACE)
        await deployments.until(available(deployments, "big", replicas))

    phases.append(await timed("Deployment 0 -> Available", replicas, processes, scale_up))
    await api.delete(DEPLOYMENTS, "big", namespace=NAMESPACE, propagation_policy="Background")
    await pods.until(pods.empty)  # the garbage collector takes them

    progress(f"rolling update of {rollout:,} replicas")
    created = await api.create(DEPLOYMENTS, deployment("web", rollout), namespace=NAMESPACE)
    await deployments.until(rolled_out(deployments, "web", created["metadata"]["generation"]))

    async def roll() -> None:
        change = {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}}
        changed = await api.patch(DEPLOYMENTS, "web", change, namespace=NAMESPACE)
        await deployments.until(rolled_out(deployments, "web", changed["metadata"]["generation"]))

    phases.append(await timed("rolling update complete", rollout, processes, roll))
    await deployments.informer.stop()
    await pods.informer.stop()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=5000)
    parser.add_argument("--rollout", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20 nodes, 500 replicas, 200 rolled")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.nodes, arguments.replicas, arguments.rollout = 20, 500, 200
    asyncio.run(run(arguments.nodes, arguments.replicas, arguments.rollout))


if __name__ == "__main__":
    main()
