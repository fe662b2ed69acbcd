"""Process runtime benchmark: what a container costs over spawning its process directly.

    python bench/process_runtime.py [--containers 100]

Reports, for ``sleep`` containers:

- sequentially: the median time of create_container and of start_container (which
  returns once the container's process runs under its shim), against the median time of
  spawning ``sleep`` directly with asyncio;
- concurrently: the wall time to create and start ``--containers`` containers at once;
- each shim's memory: RSS and PSS (shared pages of the interpreter split among shims).

Uses cgroups when /sys/fs/cgroup is writable (as the kubelet would). Everything it
starts it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.kubelet.runtime.interface import ContainerConfig, LinuxResources, PodSandboxConfig
from pynetes.kubelet.runtime.process import ImageCatalog, ProcessRuntime

SAMPLES = 20


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, value = line.partition(":")
            fields[name] = value
    return int(fields["Rss"].split()[0]), int(fields["Pss"].split()[0])


async def direct_spawn() -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec("sleep", "300")
    elapsed = time.perf_counter() - started
    process.kill()
    await process.wait()
    return elapsed


async def main(containers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runtime = ProcessRuntime(Path(folder) / "state", images=ImageCatalog(None))
        sandbox = PodSandboxConfig(
            name="bench", namespace="default", uid="bench-uid", log_directory=folder
        )
        sandbox_id = await runtime.run_pod_sandbox(sandbox)
        resources = LinuxResources(cpu_shares=256, memory_limit_in_bytes=64 << 20)

        async def create(index: int) -> str:
            config = ContainerConfig(
                name=f"c{index}",
                image="busybox",
                command=["sleep", "300"],
                log_path=f"c{index}/0.log",
                resources=resources,
            )
            return await runtime.create_container(sandbox_id, config, sandbox)

        creates, starts = [], []
        for index in range(SAMPLES):
            started = time.perf_counter()
            container_id = await create(index)
            creates.append(time.perf_counter() - started)
            started = time.perf_counter()
            await runtime.start_container(container_id)
            starts.append(time.perf_counter() - started)
        direct = [await direct_spawn() for _ in range(SAMPLES)]
        shim_pids = [
            json.loads((Path(folder) / "state/containers" / c.id / "started.json").read_text())[
                "shim_pid"
            ]
            for c in await runtime.list_containers()
        ]
        memory = [memory_kib(pid) for pid in shim_pids]

        async def create_and_start(index: int) -> None:
            await runtime.start_container(await create(index))

        started = time.perf_counter()
        await asyncio.gather(*(create_and_start(SAMPLES + i) for i in range(containers)))
        concurrent = time.perf_counter() - started
        print(f"create_container median {statistics.median(creates) * 1000:.1f} ms")
        print(f"start_container  median {statistics.median(starts) * 1000:.1f} ms")
        print(f"direct spawn     median {statistics.median(direct) * 1000:.1f} ms")
        print(f"{containers} containers created and started concurrently in {concurrent:.2f} s")
        print(
            f"shim memory: RSS {statistics.median(m[0] for m in memory) / 1024:.1f} MiB, "
            f"PSS {statistics.median(m[1] for m in memory) / 1024:.1f} MiB"
        )
        await runtime.remove_pod_sandbox(sandbox_id)
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    asyncio.run(main(parser.parse_args().containers))
