"""kube-proxy benchmark: small HTTP requests through the userspace proxy versus
directly to the pod, and the time from an endpoint change to the data path
following it.

    sudo python bench/proxy.py [--seconds 5] [--connections 16] [--rounds 3] [--changes 10]

In one run on one machine: an API server (in this process), two "pods" (a
minimal HTTP server each, in processes of their own, answering their name),
``pynetes proxy`` (userspace mode, its own process), and wrk
(``apt-get install wrk``) sending keep-alive GETs for ``--seconds`` over
``--connections`` connections, to a pod directly, then to the Service's
ClusterIP, ``--rounds`` times in turn (medians are printed: the machine
may be busy with other work, which interleaving spreads over both). Then
the Service's EndpointSlice is switched from one pod to the other
``--changes`` times; each time, the time from the write to the API server
to the first new connection through the ClusterIP answered by the new pod
is measured (new connections every 2 ms).

The API server refuses loopback endpoint addresses, so the pods listen in
198.19.79.0/24, made local first (``ip route add local ... dev lo``: root)
and removed at the end; the ClusterIP is on loopback (127.79.0.10). Nothing
leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.apiserver.app import ServerOptions, start
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from pynetes.proxy import localroute
from pynetes.proxy.tracker import ENDPOINT_SLICES, SERVICES

POD_RANGE = ipaddress.ip_network("198.19.79.0/24")
POD_PORT = 9376
CLUSTER_IP = "127.79.0.10"
#: A loopback service range: the userspace proxy binds its addresses without a route.
SERVICE_RANGE = "127.79.0.0/16"
SERVICE_PORT = 8080
REPOSITORY = Path(__file__).resolve().parent.parent


# -- the pods: a minimal keep-alive HTTP server answering its name --------------------------


class _Answer(asyncio.Protocol):
    def __init__(self, response: bytes) -> None:
        self.response = response
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        requests = self.buffer.count(b"\r\n\r\n")
        if requests:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            assert self.transport is not None
            self.transport.write(self.response * requests)


def serve_pod(name: str, ip: str, port: int) -> None:
    body = name.encode()
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Answer(response), ip, port, backlog=1024)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def start_pod(name: str, ip: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--pod", name, ip, str(POD_PORT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


# -- measuring ------------------------------------------------------------------------------


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, p99 latency in ms) of wrk against ``url``."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([0-9.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def who_answers(ip: str, port: int) -> str | None:
    """The name of the pod answering a new connection (None if refused or reset)."""
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError:
        return None
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        return (await reader.readexactly(length)).decode()
    except (OSError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()


async def answered_by(name: str, *, interval: float) -> None:
    """Return once a new connection to the ClusterIP reaches the pod ``name``."""
    async with asyncio.timeout(30):
        while True:
            if await who_answers(CLUSTER_IP, SERVICE_PORT) == name:
                return
            await asyncio.sleep(interval)


def endpoint_slice(ip: str) -> dict:
    return {
        "metadata": {
            "name": "web-bench",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "bench"}],
        "ports": [{"name": "http", "port": POD_PORT, "protocol": "TCP"}],
    }


async def switch_times(api: ApiClient, pods: list[tuple[str, str]], changes: int) -> list[float]:
    """Seconds from each slice update to the first new connection reaching the new pod."""
    times = []
    for change in range(changes):
        name, ip = pods[(change + 1) % 2]
        current = await api.get(ENDPOINT_SLICES, "web-bench", namespace="default")
        body = endpoint_slice(ip)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        started = time.perf_counter()
        await api.replace(ENDPOINT_SLICES, body)
        await answered_by(name, interval=0.002)
        times.append(time.perf_counter() - started)
        await asyncio.sleep(1.1)  # past --min-sync-period: each change is measured alone
    return times


# -- the run --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system CPU time ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def run(arguments: argparse.Namespace, directory: Path) -> None:
    server = await start(
        ServerOptions(
            data_dir=directory / "data",
            secure_port=free_port(),
            service_cluster_ip_range=SERVICE_RANGE,
        )
    )
    processes: list[subprocess.Popen[str] | asyncio.subprocess.Process] = []
    try:
        pki = Pki(server.pki_dir)
        admin = issue_client_certificate(pki.load_ca(), "kubernetes-admin", ["system:masters"])
        config_path = directory / "kubeconfig"
        write_kubeconfig(
            config_path,
            kubeconfig(
                server=server.url,
                ca_pem=pki.ca_cert.read_bytes(),
                user="kubernetes-admin",
                client=admin,
            ),
        )
        pods = [("pod-a", str(POD_RANGE[10])), ("pod-b", str(POD_RANGE[11]))]
        processes += [start_pod(name, ip) for name, ip in pods]
        async with ApiClient(load_config(config_path)) as api:
            service = {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "clusterIP": CLUSTER_IP,
                    "clusterIPs": [CLUSTER_IP],
                    "ports": [{"name": "http", "port": SERVICE_PORT, "protocol": "TCP"}],
                },
            }
            await api.create(SERVICES, service)
            await api.create(ENDPOINT_SLICES, endpoint_slice(pods[0][1]))
            with (directory / "proxy.log").open("w") as log:
                proxy = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "pynetes", "proxy", "--kubeconfig", str(config_path)),
                    "--metrics-bind-address=127.0.0.1:0",
                    "--healthz-bind-address=127.0.0.1:0",
                    cwd=REPOSITORY,
                    stdout=log,
                    stderr=log,
                )
            processes.append(proxy)
            await answered_by("pod-a", interval=0.05)
            seconds, connections = arguments.seconds, arguments.connections
            rounds: list[tuple[tuple[float, float], tuple[float, float]]] = []
            pod_cpu: list[float] = []  # CPU seconds per request, of the pod answering directly
            proxy_cpu: list[float] = []  # and of the proxy forwarding
            for _ in range(arguments.rounds):  # interleaved: both see the same machine
                before = cpu_seconds(processes[0].pid)
                direct = await asyncio.to_thread(
                    wrk, f"http://{pods[0][1]}:{POD_PORT}/", seconds, connections
                )
                pod_cpu.append((cpu_seconds(processes[0].pid) - before) / (direct[0] * seconds))
                before = cpu_seconds(proxy.pid)
                proxied = await asyncio.to_thread(
                    wrk, f"http://{CLUSTER_IP}:{SERVICE_PORT}/", seconds, connections
                )
                proxy_cpu.append((cpu_seconds(proxy.pid) - before) / (proxied[0] * seconds))
                rounds.append((direct, proxied))
            times = await switch_times(api, pods, arguments.changes)
        print(
            f"small HTTP GETs, wrk -t1 -c{connections}, {seconds} s each, "
            f"{len(rounds)} interleaved rounds (medians), {os.cpu_count()} CPUs"
        )
        for label, side in (("direct to the pod:", 0), ("userspace proxy:", 1)):
            rate = statistics.median(r[side][0] for r in rounds)
            p99 = statistics.median(r[side][1] for r in rounds)
            print(f"  {label:24} {rate:9.0f} req/s   p99 {p99:6.2f} ms")
        ratio = statistics.median(r[1][0] / r[0][0] for r in rounds)
        print(
            f"  proxy / direct:          {ratio:9.0%}  (per round: "
            + ", ".join(f"{r[1][0] / r[0][0]:.0%}" for r in rounds)
            + ")"
        )
        print(
            f"  CPU per request: the pod {statistics.median(pod_cpu) * 1e6:.1f} us "
            f"(direct), the proxy {statistics.median(proxy_cpu) * 1e6:.1f} us"
        )
        print(f"endpoint change -> data path follows ({len(times)} changes, min-sync-period 1s)")
        print(
            f"  median {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms"
        )
    finally:
        for process in processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired, TimeoutError):
                if isinstance(process, subprocess.Popen):
                    process.wait(10)
                else:
                    await asyncio.wait_for(process.wait(), 10)
        await server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--pod", nargs=3, metavar=("NAME", "IP", "PORT"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.pod:
        name, ip, port = arguments.pod
        serve_pod(name, ip, int(port))
        return 0
    if os.geteuid() != 0 or shutil.which("wrk") is None:
        print("needs root (a local route for the pods' range) and wrk", file=sys.stderr)
        return 1

    async def everything() -> None:
        await localroute.ensure_local_route(POD_RANGE)
        try:
            with tempfile.TemporaryDirectory() as directory:
                await run(arguments, Path(directory))
        finally:
            await localroute.remove_local_route(POD_RANGE)

    asyncio.run(everything())
    return 0


if __name__ == "__main__":
    sys.exit(main())
