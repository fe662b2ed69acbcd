"""ReplicaSet benchmark: one ReplicaSet of 5,000 replicas until every pod is Available.

    python bench/replicaset.py [--replicas 5000] [--nodes 100]

Starts ``pynetes apiserver`` (SQLite), ``pynetes hollow-nodes`` (110 pods
each), ``pynetes scheduler`` and ``pynetes controller-manager --controllers
replicaset --kube-api-qps 0`` (no client-side rate limit), each in a process
of its own. Then creates one ReplicaSet and polls its status, reporting the
seconds from the create until ``status.replicas`` (every pod created and
seen), ``readyReplicas`` and ``availableReplicas`` reach ``--replicas``, and
the CPU seconds each process used meanwhile (the machine may be shared: CPU
is steadier than wall-clock figures). ``--nodes 0`` starts neither nodes nor
scheduler and measures the creates alone.

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

from bench.apiserver import ServerProcess, free_port, progress, start_apiserver
from bench.hollow import start_hollow
from bench.scheduler import start_scheduler
from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient

REPLICA_SETS = built_in("apps", "v1", "replicasets")
NAMESPACE = "default"
MILESTONES = ("replicas", "readyReplicas", "availableReplicas")
#: Polling period of the ReplicaSet's status, and how long to wait at most.
POLL = 0.1
GIVE_UP = 600.0


async def start_controller_manager(kubeconfig: Path, directory: Path) -> ServerProcess:
    """The controller manager running only the replicaset controller, unthrottled."""
    command = [sys.executable, "-m", "pynetes", "controller-manager"]
    command += ["--kubeconfig", str(kubeconfig), "--controllers", "replicaset"]
    command += ["--kube-api-qps", "0", "--no-leader-elect", "--port", str(free_port())]
    log = directory / "controller-manager.log"
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output
        )
    manager = ServerProcess(process, "", log)
    while "caches synced" not in await asyncio.to_thread(log.read_text):
        if process.returncode is not None:
            raise RuntimeError(f"controller-manager exited: {log.read_text()[-2000:]}")
        await asyncio.sleep(0.1)
    return manager


def replica_set(replicas: int) -> dict:
    labels = {"app": "bench"}
    container = {"name": "pause", "image": "registry.k8s.io/pause:3.10"}
    return {
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


async def milestones(api: ApiClient, replicas: int, wanted: tuple[str, ...]) -> dict[str, float]:
    """Seconds from the create until each status field of ``wanted`` reached ``replicas``."""
    began = time.perf_counter()
    await api.create(REPLICA_SETS, replica_set(replicas), namespace=NAMESPACE)
    reached: dict[str, float] = {}
    while len(reached) < len(wanted) and time.perf_counter() - began < GIVE_UP:
        fresh = await api.get(REPLICA_SETS, "bench", namespace=NAMESPACE)
        status = fresh.get("status") or {}
        for field in wanted:
            if field not in reached and status.get(field) == replicas:
                reached[field] = time.perf_counter() - began
                progress(f"{field} = {replicas} after {reached[field]:.1f} s")
        await asyncio.sleep(POLL)
    return reached


async def run(replicas: int, nodes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-replicaset-") as name:
        directory = Path(name)
        processes: dict[str, ServerProcess] = {}
        try:
            processes["apiserver"], kubeconfig = await start_apiserver(directory)
            if nodes:
                processes["hollow"], _ = await start_hollow(
                    kubeconfig, nodes, directory / "hollow.log"
                )
                processes["scheduler"], _ = await start_scheduler(kubeconfig, directory)
            processes["controller-manager"] = await start_controller_manager(kubeconfig, directory)
            before = {key: process.cpu_seconds() for key, process in processes.items()}
            wanted = MILESTONES if nodes else MILESTONES[:1]
            config = dataclasses.replace(load_config(kubeconfig), qps=0)
            async with ApiClient(config) as api:
                reached = await milestones(api, replicas, wanted)
            used = {key: p.cpu_seconds() - before[key] for key, p in processes.items()}
        finally:
            for process in processes.values():
                await process.stop()
    print(f"one ReplicaSet of {replicas:,} replicas, {nodes} hollow nodes")
    for field in wanted:
        seconds = reached.get(field)
        shown = f"{seconds:6.1f} s" if seconds is not None else f"not within {GIVE_UP:.0f} s"
        print(f"  status.{field:<18} = {replicas:,} after {shown}")
    print("  CPU seconds: " + ", ".join(f"{key} {value:.1f}" for key, value in used.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=5_000)
    parser.add_argument("--nodes", type=int, default=100, help="0: measure the creates alone")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.replicas, arguments.nodes))


if __name__ == "__main__":
    main()
