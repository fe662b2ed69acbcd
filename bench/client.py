"""Client benchmark: an informer syncing 50,000 pods, next to the official client and the floor.

    python bench/client.py [--pods 50000] [--quick]

Starts ``pynetes apiserver`` (SQLite) in a process of its own, creates the
pods, then times, each in a fresh process of its own (so that each peak RSS
is its own), from nothing to having every pod in memory:

- floor: download the list (``resourceVersion=0``, one request) and parse it
  with orjson (the garbage collector off), nothing more;
- the official ``kubernetes`` client: ``list_pod_for_all_namespaces`` into its
  models, as its users do;
- pynetes: a shared informer for pods, until ``has_synced``.

Everything talks to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apiserver import JSON, NAMESPACE, Scale, ServerProcess, Tls, creates, start_apiserver

TARGET_SPEEDUP = 5.0
TARGET_OF_FLOOR = 2.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_floor(config: Path) -> dict[str, float]:
    """One request, read whole, parsed with orjson with the garbage collector off:
    the least a client can do to hold every pod."""
    import gc
    import ssl
    import urllib.request

    from pynetes.client.config import load_config

    gc.disable()

    settings = load_config(config)
    context: ssl.SSLContext = settings.ssl_context()
    began = time.perf_counter()
    with urllib.request.urlopen(
        f"{settings.server}/api/v1/pods?resourceVersion=0", context=context
    ) as response:
        body = response.read()
    pods = len(orjson.loads(body)["items"])
    return {"seconds": time.perf_counter() - began, "pods": pods, "mib": len(body) / 2**20}


def measure_official(config: Path) -> dict[str, float]:
    from kubernetes import client
    from kubernetes import config as kube_config

    kube_config.load_kube_config(str(config))
    began = time.perf_counter()
    pods = client.CoreV1Api().list_pod_for_all_namespaces(resource_version="0")
    return {"seconds": time.perf_counter() - began, "pods": len(pods.items)}


def measure_informer(config: Path) -> dict[str, float]:
    from pynetes.api.resources import BUILT_IN
    from pynetes.client.cache.informer import SharedInformerFactory
    from pynetes.client.config import load_config
    from pynetes.client.rest import ApiClient

    pods_resource = next(r for r in BUILT_IN if (r.group, r.plural) == ("", "pods"))

    async def sync() -> dict[str, float]:
        began = time.perf_counter()
        async with ApiClient.from_config(load_config(config)) as api:
            factory = SharedInformerFactory(api)
            informer = factory.informer(pods_resource)
            factory.start()
            await factory.wait_for_cache_sync()
            seconds = time.perf_counter() - began
            count = len(informer.store)
            await factory.shutdown()
        return {"seconds": seconds, "pods": count}

    return asyncio.run(sync())


MEASURES = {"floor": measure_floor, "official": measure_official, "informer": measure_informer}


def run_measure(name: str, config: Path) -> dict[str, float]:
    """``name`` in a fresh process: its figures and its peak RSS."""
    output = subprocess.run(
        [sys.executable, __file__, "--measure", name, "--kubeconfig", str(config)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


async def prepare(directory: Path, pods: int) -> tuple[ServerProcess, Path]:
    server, config = await start_apiserver(directory)
    data_dir = directory / "data"
    tls = Tls.admin(data_dir / "pki", directory)
    async with tls.session(64) as session:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        async with session.post(
            f"{server.url}/api/v1/namespaces", data=orjson.dumps(namespace), headers=JSON
        ) as response:
            await response.read()
        await creates(session, server, Scale(pods, 0.0, 64, 0, ()), {})
    return server, config


async def run(pods: int, runs: int) -> None:
    print(f"client benchmark: {pods:,} pods; each measure in a fresh process, {runs} runs")
    with tempfile.TemporaryDirectory() as temporary:
        server, config = await prepare(Path(temporary), pods)
        try:
            results = {
                name: [await asyncio.to_thread(run_measure, name, config) for _ in range(runs)]
                for name in MEASURES
            }
        finally:
            await server.stop()
    best = {name: min(found, key=lambda r: r["seconds"]) for name, found in results.items()}
    for name, found in results.items():
        assert all(r["pods"] == pods for r in found), f"{name} saw {[r['pods'] for r in found]}"
        times = ", ".join(f"{r['seconds']:.2f}" for r in found)
        print(
            f"  {name:<9} best {best[name]['seconds']:6.2f} s   (runs: {times} s)"
            f"   peak RSS {best[name]['rss']:6.0f} MiB"
        )
    informer, official, floor = (best[n]["seconds"] for n in ("informer", "official", "floor"))
    print(
        f"  informer vs official client: {official / informer:.1f}x faster"
        f" [target >= {TARGET_SPEEDUP:g}x]"
    )
    print(
        f"  informer vs floor (download + parse {best['floor']['mib']:.0f} MiB):"
        f" {informer / floor:.2f}x the floor's time [target <= {TARGET_OF_FLOOR:g}x]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 pods, one run")
    parser.add_argument("--measure", choices=sorted(MEASURES))
    parser.add_argument("--kubeconfig", type=Path)
    arguments = parser.parse_args()
    if arguments.measure:
        figures = MEASURES[arguments.measure](arguments.kubeconfig)
        print(json.dumps({**figures, "rss": peak_rss_mib()}))
        return
    pods, runs = (2_000, 1) if arguments.quick else (arguments.pods, arguments.runs)
    asyncio.run(run(pods, runs))


if __name__ == "__main__":
    main()
