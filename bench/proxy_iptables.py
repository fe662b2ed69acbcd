"""iptables proxy benchmark: small HTTP requests through a ClusterIP versus to the pod.

    sudo python bench/proxy_iptables.py [--seconds 2] [--rounds 4] [--concurrency 32]

Builds its own world (root): a pod in a network namespace ``pyn-bench-a`` (and ``-b``) behind
a veth pair, the service range 10.251.18.0/24 made local, and an IptablesProxier
whose rules send the ClusterIP to the pod. Then, in one run, ``--rounds`` times
alternating, for ``--seconds`` each (the figures are the means of the rounds,
with the range of the rounds' rates to show the noise):

- requests/s and p99 latency with a new connection per request (what NAT costs
  most: each connection is DNAT'd and conntrack'd), and with keep-alive
  connections (NAT'd once, then per packet by conntrack), direct vs ClusterIP;
- the time from an endpoint change (``sync`` of a ServiceMap whose endpoint moved
  to a second pod) to a new connection reaching the new pod.

Everything it makes it removes (rules, namespaces, route), also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.proxy.iptables import IptablesProxier
from pynetes.proxy.model import Endpoint, ServicePort
from tests.integration.proxy.world import POD_PORT, Pod, get, local_route, pod

SUBNET = "10.250.18"
SERVICE_CIDR = "10.251.18.0/24"
CLUSTER_IP = "10.251.18.10"
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def service(target: Pod) -> dict[str, ServicePort]:
    port = ServicePort(
        "bench", "web", "", "TCP", (CLUSTER_IP,), 80, endpoints=(Endpoint(target.ip, POD_PORT),)
    )
    return {port.key: port}


async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)


async def load(host: str, port: int, seconds: float, concurrency: int, keepalive: bool) -> dict:
    """Requests from ``concurrency`` workers for ``seconds``: rate and latency."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        connection = None
        while time.monotonic() < deadline:
            start = time.perf_counter()
            if connection is None:
                connection = await asyncio.open_connection(host, port)
            await request(*connection)
            if not keepalive:
                # An RST instead of a FIN: no TIME_WAIT piling up on the client's ports.
                sock = connection[1].get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                connection[1].close()
                await connection[1].wait_closed()
                connection = None
            latencies.append(time.perf_counter() - start)
        if connection is not None:
            connection[1].close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def change_latency(proxier: IptablesProxier, a: Pod, b: Pod, rounds: int) -> list[float]:
    """Seconds from a sync moving the endpoint to a new connection reaching the new pod."""
    times = []
    for i in range(rounds):
        target = (b, a)[i % 2]
        start = time.perf_counter()
        await proxier.sync(service(target))
        while await asyncio.to_thread(get, CLUSTER_IP, 80) != target.name:
            pass
        times.append(time.perf_counter() - start)
    return times


async def main(args: argparse.Namespace) -> None:
    with (
        pod("bench-a", SUBNET, 0) as a,
        pod("bench-b", SUBNET, 1) as b,
        local_route(SERVICE_CIDR),
    ):
        proxier = IptablesProxier(cluster_cidr=f"{SUBNET}.0/24")
        try:
            await proxier.sync(service(a))
            results: dict[str, list[dict]] = {}
            targets = [("direct", a.ip, POD_PORT), ("clusterip", CLUSTER_IP, 80)]
            for round_ in range(args.rounds):
                for keepalive in (False, True):
                    # Alternating which goes first evens out warm-up and neighbours.
                    for name, host, port in targets[:: 1 if round_ % 2 else -1]:
                        key = f"{name} {'keep-alive' if keepalive else 'new connection'}"
                        run = await load(host, port, args.seconds, args.concurrency, keepalive)
                        results.setdefault(key, []).append(run)
            for key in sorted(results, key=lambda k: ("keep-alive" in k, "clusterip" in k)):
                runs = results[key]
                rps = statistics.mean(r["rps"] for r in runs)
                p99 = statistics.mean(r["p99_ms"] for r in runs)
                p50 = statistics.mean(r["p50_ms"] for r in runs)
                low, high = min(r["rps"] for r in runs), max(r["rps"] for r in runs)
                print(
                    f"{key:28} {rps:7.0f} req/s (rounds {low:.0f}-{high:.0f})"
                    f"  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                )
            changes = await change_latency(proxier, a, b, 20)
            print(
                f"endpoint change -> data path: median {statistics.median(changes) * 1000:.1f} ms,"
                f" max {max(changes) * 1000:.1f} ms ({len(changes)} changes)"
            )
        finally:
            await proxier.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
