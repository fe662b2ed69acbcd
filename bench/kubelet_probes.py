"""Probe cost benchmark: 110 pods, each with an httpGet readiness and a tcpSocket liveness probe.

    python bench/kubelet_probes.py [--pods 110] [--period 10] [--seconds 30]

A plain HTTP server (``python -m http.server``, in a process of its own) answers
every probe. The probe manager runs on the real clock; once every probe has
run, this process's CPU is measured over ``--seconds``. The floor is the same
traffic without the manager: the same GETs and connects, made with bare asyncio
streams on the same schedule. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.kubelet.prober.manager import ProbeManager


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(seconds: float) -> float:
    """This process' CPU use, in % of one core, over the next ``seconds``."""
    cpu, began = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds() - cpu) / (time.monotonic() - began)


async def with_manager(pods: int, period: int, port: int, seconds: float) -> float:
    # No exec probes here, so no runtime is needed.
    manager = ProbeManager(None, on_change=lambda _: None)  # type: ignore[arg-type]
    now = time.time_ns()
    for index in range(pods):
        uid = f"pod-{index}"
        container = {
            "name": "app",
            "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": period},
            "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": period},
        }
        pod = {"metadata": {"uid": uid, "name": uid, "namespace": "bench"}}
        manager.add_pod({**pod, "spec": {"containers": [container]}}, pod_ip="127.0.0.1")
        manager.container_started(uid, "app", f"container-{index}", now)
    await asyncio.sleep(period + 2)
    ready = sum(manager.readiness(f"pod-{index}", "app") for index in range(pods))
    assert ready == pods, f"only {ready} of {pods} pods became ready"
    try:
        return await measure(seconds)
    finally:
        await manager.close()


async def floor(pods: int, period: int, port: int, seconds: float) -> float:
    async def get() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()
        await writer.wait_closed()

    async def connect() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()

    async def every_period(probe: Callable[[], Awaitable[None]], offset: float) -> None:
        await asyncio.sleep(offset)
        while True:
            await probe()
            await asyncio.sleep(period)

    tasks = [
        asyncio.create_task(every_period(probe, period * index / pods))
        for index in range(pods)
        for probe in (get, connect)
    ]
    await asyncio.sleep(period)
    try:
        return await measure(seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=110)
    parser.add_argument("--period", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    options = parser.parse_args()
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(1)
        args = (options.pods, options.period, port, options.seconds)
        base = await floor(*args)
        probes = await with_manager(*args)
    finally:
        server.terminate()
        await server.wait()
    per_second = 2 * options.pods / options.period
    print(f"{2 * options.pods} probes every {options.period} s ({per_second:.0f}/s):")
    print(f"  floor (bare asyncio streams): {base:5.2f}% of one core")
    print(f"  probe manager:                {probes:5.2f}% of one core")
    cost, floor_cost = 10 * probes / per_second, 10 * base / per_second
    print(f"  per probe: {cost:.2f} ms CPU (floor {floor_cost:.2f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
