"""API server benchmark: pod creates/s, GETs/s, LIST of 10,000 pods, watch fan-out, RSS.

    python bench/apiserver.py [--quick] [--watch-processes 2]

Prints, in one run on one machine, each figure next to its floor: a bare
aiohttp server answering the same bytes (recorded from the API server) over
the same TLS (the API server's serving certificate, client certificates
verified against the cluster CA). Each server runs in a process of its own
(``python -m pynetes apiserver`` with SQLite storage, and this script with
``--floor-server``); the clients run in this process, except the watchers,
which run in ``--watch-processes`` processes of their own, and the GETs,
which wrk sends (a Python client would take the CPU the server needs; needs
``apt-get install wrk``). Requests carry the admin client certificate, over
pooled keep-alive connections; wrk, which cannot present one, a bearer token
from the API server's ``--token-auth-file`` (the floor authenticates
nothing). Every process runs on uvloop, as ``pynetes apiserver`` does: the floor,
so that it stays the best a bare aiohttp server does here, and the clients, whose
TLS in asyncio's Python took the CPU the servers need. Everything talks to
127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pynetes.pki.certificates import Pki, ensure_pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig

NAMESPACE = "bench"
WATCH_NAMESPACE = "bench-watch"
CONFIGMAPS = 16
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
#: Each watched event carries the writer's time.perf_counter() at submission (CLOCK_MONOTONIC,
#: the same clock in every process of this machine).
SENT_ANNOTATION = "bench/sent"
SENT = re.compile(rb'"bench/sent":"([0-9.]+)"')
PLACEHOLDER = "SENT-TIME"
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120)
#: How long watchers may still receive events after the last write was acknowledged.
WATCH_GRACE = 30.0
#: /proc counts CPU time in ticks (10 ms): shorter windows give no meaningful CPU shares.
SHORTEST_CPU_WINDOW = 0.5
#: An update of one configmap: its name, and the bytes of the body before and after the send time.
Template = tuple[str, bytes, bytes]


@dataclasses.dataclass(frozen=True)
class WatchLoad:
    """``watchers`` streams, each receiving all ``rate`` writes/s for ``seconds``."""

    watchers: int
    rate: float
    seconds: float

    @property
    def writes(self) -> int:
        return int(self.rate * self.seconds)


@dataclasses.dataclass(frozen=True)
class Scale:
    """How much of each: pods created (and listed), seconds of GETs, concurrent clients,
    LIST runs."""

    pods: int
    get_seconds: float
    concurrency: int
    list_runs: int
    #: The target's load first, then two with a tenth of its deliveries/s, to show where it breaks.
    watches: tuple[WatchLoad, ...]


FULL = Scale(
    10_000,
    10.0,
    64,
    7,
    (WatchLoad(1_000, 500.0, 10.0), WatchLoad(100, 500.0, 10.0), WatchLoad(1_000, 50.0, 10.0)),
)
QUICK = Scale(1_000, 2.0, 16, 3, (WatchLoad(50, 100.0, 2.0), WatchLoad(20, 200.0, 2.0)))


def percentiles(samples: list[float] | array.array, *fractions: float) -> list[float]:
    """Nearest-rank percentiles, sorting once."""
    ordered = sorted(samples)
    return [ordered[min(len(ordered) - 1, int(len(ordered) * share))] for share in fractions]


def pod_name(index: int) -> str:
    return f"bench-{index:05d}"


def pod_body(index: int) -> bytes:
    """A small pod: one container, as ``kubectl run`` makes it."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod_name(index), "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]},
        }
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class Tls:
    """The cluster CA and the admin client certificate every client presents."""

    pki_dir: Path
    cert: Path
    key: Path

    @classmethod
    def admin(cls, pki_dir: Path, directory: Path) -> Tls:
        pair = issue_client_certificate(
            Pki(pki_dir).load_ca(), "kubernetes-admin", ["system:masters"]
        )
        cert, key = directory / "admin.crt", directory / "admin.key"
        cert.write_bytes(pair.certificate_pem())
        key.touch(mode=0o600)
        key.write_bytes(pair.key_pem())
        return cls(pki_dir, cert, key)

    def context(self) -> ssl.SSLContext:
        # Imported here: the floor server imports this module, and its RSS is a floor only
        # without the API server's modules.
        from pynetes.apiserver.app import client_ssl_context

        return client_ssl_context(self.pki_dir, self.cert, self.key)

    def session(self, connections: int) -> aiohttp.ClientSession:
        """Pooled keep-alive connections (0: one per concurrent request, no limit)."""
        connector = aiohttp.TCPConnector(limit=connections, ssl=self.context())
        return aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT)


class ServerProcess:
    """A server in a process of its own: its address, memory and CPU time."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    @classmethod
    async def start(cls, command: list[str], port: int, log: Path, tls_for: Path) -> ServerProcess:
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output
            )
        server = cls(process, f"https://127.0.0.1:{port}", log)
        await server._wait_ready(tls_for)
        return server

    async def _wait_ready(self, pki_dir: Path) -> None:
        context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        deadline = time.perf_counter() + READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.perf_counter() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.url}/readyz", ssl=context) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready within {READY_TIMEOUT:.0f} s")

    def rss_mib(self, field_name: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field_name} for process {self.process.pid}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of every thread of the server process."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        try:
            async with asyncio.timeout(15):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def start_component(command: str, arguments: list[str], directory: Path) -> ServerProcess:
    """``pynetes COMMAND ARGUMENTS --port P`` logging to ``directory/COMMAND.log``, once its
    plain-HTTP ``/healthz`` answers (the scheduler and the controller manager)."""
    port = free_port()
    log = directory / f"{command}.log"
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "pynetes", command, *arguments, "--port", str(port)],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    component = ServerProcess(process, f"http://127.0.0.1:{port}", log)
    deadline = time.perf_counter() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{command} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{component.url}/healthz") as response:
                    if response.status == 200:
                        return component
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{command} not healthy within {READY_TIMEOUT:.0f} s")


def client_cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def start_apiserver(directory: Path) -> tuple[ServerProcess, Path]:
    """``pynetes apiserver`` (SQLite) in a process of its own, on its own PKI under
    ``directory``, and an admin kubeconfig for it: what the other benchmarks start from."""
    data_dir = directory / "data"
    await asyncio.to_thread(ensure_pki, data_dir / "pki", ips=["127.0.0.1"])
    port = free_port()
    command = [sys.executable, "-m", "pynetes", "apiserver", "--data-dir", str(data_dir)]
    command += ["--secure-port", str(port)]
    server = await ServerProcess.start(command, port, directory / "apiserver.log", data_dir / "pki")
    pki = Pki(data_dir / "pki")
    admin = issue_client_certificate(pki.load_ca(), "bench-admin", ["system:masters"])
    config = directory / "kubeconfig"
    write_kubeconfig(
        config,
        kubeconfig(
            server=server.url, ca_pem=pki.ca_cert.read_bytes(), user="bench-admin", client=admin
        ),
    )
    return server, config


def machine_busy_seconds() -> float:
    """CPU time every process of the machine used since boot, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class CpuWindow:
    """CPU used over a measurement, in CPUs: by the server, this (client) process, the machine.

    The machine is shared: ``others`` is what processes that are not part of
    this measurement took from it at the same time.
    """

    server: ServerProcess
    started: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine: float = 0.0
    wall: float = 0.0

    def __enter__(self) -> CpuWindow:
        self.started = time.perf_counter()
        self.server_cpu = self.server.cpu_seconds()
        self.client_cpu = client_cpu_seconds()
        self.machine = machine_busy_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = self.wall = time.perf_counter() - self.started
        self.server_cpu = (self.server.cpu_seconds() - self.server_cpu) / wall
        self.client_cpu = (client_cpu_seconds() - self.client_cpu) / wall
        self.machine = (machine_busy_seconds() - self.machine) / wall

    def text(self, *, helpers: float = 0.0) -> str:
        """``helpers``: CPU of further client processes, counted out of ``others``."""
        if self.wall < SHORTEST_CPU_WINDOW:
            return "CPU: (too short to measure)"
        others = max(0.0, self.machine - self.server_cpu - self.client_cpu - helpers)
        return (
            f"CPU: server {self.server_cpu:4.0%}, client {self.client_cpu:4.0%},"
            f" others {others:4.0%}"
        )


@dataclasses.dataclass
class Throughput:
    count: int
    seconds: float
    latencies: list[float]
    cpu: CpuWindow

    def text(self, unit: str) -> str:
        p50, p99 = percentiles(self.latencies, 0.5, 0.99)
        return (
            f"{self.count / self.seconds:8,.0f} {unit}/s   p50 {p50 * 1000:7.2f} ms"
            f"   p99 {p99 * 1000:7.2f} ms   {self.cpu.text()}"
        )


@dataclasses.dataclass
class ListTiming:
    seconds: list[float]
    size: int
    cpu: CpuWindow

    def text(self) -> str:
        if len(self.seconds) == 1:
            return f"{self.seconds[0] * 1000:.1f} ms   {self.cpu.text()}"
        return (
            f"median {statistics.median(self.seconds) * 1000:7.1f} ms"
            f"   min {min(self.seconds) * 1000:7.1f} ms   max {max(self.seconds) * 1000:7.1f} ms"
            f"   ({self.size / 2**20:.1f} MiB, {len(self.seconds)} runs)   {self.cpu.text()}"
        )


async def expect(response: aiohttp.ClientResponse, status: int) -> bytes:
    body = await response.read()
    if response.status != status:
        raise RuntimeError(
            f"{response.method} {response.url}: {response.status} {body[:500].decode()}"
        )
    return body


async def timed(
    server: ServerProcess, count: int, concurrency: int, send: Callable[[int], Awaitable[None]]
) -> Throughput:
    """``count`` requests from ``concurrency`` clients, each waiting for its answer."""
    latencies: list[float] = []

    async def client(first: int) -> None:
        for index in range(first, count, concurrency):
            begun = time.perf_counter()
            await send(index)
            latencies.append(time.perf_counter() - begun)

    with CpuWindow(server) as cpu:
        started = time.perf_counter()
        await asyncio.gather(*(client(first) for first in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Throughput(count, elapsed, latencies, cpu)


async def warm_up(session: aiohttp.ClientSession, url: str, concurrency: int) -> None:
    """Open the pool's connections (TLS handshakes) before anything is timed."""

    async def probe() -> None:
        async with session.get(f"{url}/readyz") as response:
            await expect(response, 200)

    await asyncio.gather(*(probe() for _ in range(concurrency)))


async def creates(
    session: aiohttp.ClientSession, server: ServerProcess, scale: Scale, recorded: dict[str, bytes]
) -> Throughput:
    bodies = [pod_body(index) for index in range(scale.pods)]
    url = f"{server.url}/api/v1/namespaces/{NAMESPACE}/pods"

    async def create(index: int) -> None:
        async with session.post(url, data=bodies[index], headers=JSON) as response:
            body = await expect(response, 201)
        if index == 0:
            recorded["create"] = body

    return await timed(server, scale.pods, scale.concurrency, create)


#: wrk's script for GETs: pods by name in a scattered order, as the bearer token's user.
WRK_GETS = """
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Accept"] = "application/json"
local sent = 0
request = function()
  sent = sent + 1
  local name = string.format("bench-%%05d", sent * 7919 %% %(pods)d)
  return wrk.format("GET", "/api/v1/namespaces/%(namespace)s/pods/" .. name)
end
"""


@dataclasses.dataclass
class WrkRun:
    """What wrk measured: requests/s and latency percentiles, with the CPU shares."""

    rate: float
    p50: float
    p99: float
    cpu: CpuWindow

    def text(self, unit: str) -> str:
        return (
            f"{self.rate:8,.0f} {unit}/s   p50 {self.p50 * 1000:7.2f} ms"
            f"   p99 {self.p99 * 1000:7.2f} ms   {self.cpu.text()} (client: wrk)"
        )


async def gets(
    session: aiohttp.ClientSession,
    server: ServerProcess,
    scale: Scale,
    recorded: dict[str, bytes],
    auth: WrkAuth,
) -> WrkRun:
    """GETs from wrk (a C load generator: a Python client would take the CPU the
    server needs), over ``scale.concurrency`` keep-alive TLS connections."""
    async with session.get(
        f"{server.url}/api/v1/namespaces/{NAMESPACE}/pods/{pod_name(0)}", headers=JSON
    ) as response:
        recorded["pod"] = await expect(response, 200)
    script = auth.directory / "gets.lua"
    script.write_text(WRK_GETS % {"token": auth.token, "namespace": NAMESPACE, "pods": scale.pods})
    command = ["wrk", "-t1", f"-c{scale.concurrency}", f"-d{scale.get_seconds:g}s", "--latency"]
    with CpuWindow(server) as cpu:
        process = await asyncio.create_subprocess_exec(
            *command, "-s", str(script), server.url, stdout=asyncio.subprocess.PIPE
        )
        output = (await process.communicate())[0].decode()
    return parse_wrk(output, cpu)


def parse_wrk(output: str, cpu: CpuWindow) -> WrkRun:
    """wrk's report; an error if any request failed or got an unexpected status."""
    if "Non-2xx" in output or "Socket errors" in output or "Requests/sec" not in output:
        raise RuntimeError(f"wrk: requests failed:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output)[1])  # type: ignore[index]
    latency = {
        share: wrk_seconds(value)
        for share, value in re.findall(r"^\s+(50|99)%\s+([0-9.]+[mun]?s)$", output, re.M)
    }
    return WrkRun(rate, latency["50"], latency["99"], cpu)


def wrk_seconds(value: str) -> float:
    """wrk's durations: ``812.00us``, ``7.98ms``, ``1.02s``."""
    for suffix, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * scale
    raise ValueError(f"wrk duration {value!r}")


@dataclasses.dataclass(frozen=True)
class WrkAuth:
    """A bearer token the API server knows (wrk presents no client certificate)."""

    token: str
    directory: Path

    @classmethod
    def create(cls, directory: Path) -> WrkAuth:
        token = secrets.token_hex(16)
        (directory / "tokens.csv").write_text(f'{token},bench-admin,bench,"system:masters"\n')
        return cls(token, directory)

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"


async def lists(
    session: aiohttp.ClientSession,
    server: ServerProcess,
    runs: int,
    limit: int | None,
    items: int,
    recorded: dict[str, bytes],
) -> ListTiming:
    """``runs`` sequential LISTs of the namespace's pods, each read to its last byte."""
    params = {} if limit is None else {"limit": str(limit)}
    seconds = []
    body = b""
    with CpuWindow(server) as cpu:
        for _ in range(runs):
            begun = time.perf_counter()
            async with session.get(
                f"{server.url}/api/v1/namespaces/{NAMESPACE}/pods", params=params, headers=JSON
            ) as response:
                body = await expect(response, 200)
            seconds.append(time.perf_counter() - begun)
    found = len(orjson.loads(body)["items"])
    if found != items:
        raise RuntimeError(f"LIST returned {found} pods, expected {items}")
    recorded["list" if limit is None else f"list-{limit}"] = body
    return ListTiming(seconds, len(body), cpu)


async def prepare_watch(session: aiohttp.ClientSession, url: str) -> list[Template]:
    """Configmaps to update, and update bodies: the stored objects without resourceVersion."""
    base = f"{url}/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps"
    templates = []
    for index in range(CONFIGMAPS):
        name = f"watched-{index:02d}"
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {SENT_ANNOTATION: "0"}},
            "data": {"key": "value"},
        }
        async with session.post(base, data=orjson.dumps(obj), headers=JSON) as response:
            stored = orjson.loads(await expect(response, 201))
        del stored["metadata"]["resourceVersion"]
        stored["metadata"]["annotations"][SENT_ANNOTATION] = PLACEHOLDER
        before, after = orjson.dumps(stored).split(PLACEHOLDER.encode())
        templates.append((name, before, after))
    return templates


async def list_revision(session: aiohttp.ClientSession, url: str) -> str:
    """Where watchers start: the resourceVersion of a LIST, as informers do."""
    async with session.get(
        f"{url}/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps", headers=JSON
    ) as response:
        return orjson.loads(await expect(response, 200))["metadata"]["resourceVersion"]


@dataclasses.dataclass
class WatchResult:
    load: WatchLoad
    delays: array.array
    write_rate: float
    write_latencies: list[float]
    outcomes: dict[str, int]
    client_cpu: list[float]
    cpu: CpuWindow
    errors: list[str]

    def text(self) -> str:
        expected = self.load.watchers * self.load.writes
        delays = self.delays
        if not delays:
            return f"no event delivered (of {expected:,}); {self.errors[:3]}"
        p50, p99, top = percentiles(delays, 0.5, 0.99, 1.0)
        put50, put99 = percentiles(self.write_latencies or [0.0], 0.5, 0.99)
        lines = [
            f"p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   max {top * 1000:7.1f} ms"
            f"   delivered {len(delays):,} of {expected:,} ({len(delays) / expected:.2%})",
            f"writes: {self.write_rate:,.0f}/s issued, PUT p50 {put50 * 1000:.2f} ms"
            f" p99 {put99 * 1000:.2f} ms   streams: "
            + ", ".join(f"{count} {outcome}" for outcome, count in self.outcomes.items() if count),
            f"{self.cpu.text(helpers=sum(self.client_cpu))} (client: the writer),"
            " watch clients " + " + ".join(f"{share:.0%}" for share in self.client_cpu),
        ]
        if self.errors:
            lines.append(f"{len(self.errors):,} errors, the first: {self.errors[0]}")
        lines.append(f"limited by: {self.limits(put50)}")
        return "\n            ".join(lines)

    def limits(self, put50: float) -> str:
        """What held delivery back, from the CPU shares and the writes' latency."""
        cpus = os.cpu_count() or 1
        found = []
        if self.cpu.machine >= 0.9 * cpus:
            found.append(f"the machine ({self.cpu.machine:.2f} of {cpus} CPUs busy)")
        if self.cpu.server_cpu >= 0.85:
            found.append(f"the server's event loop ({self.cpu.server_cpu:.0%} CPU)")
        if any(share >= 0.85 for share in self.client_cpu):
            found.append("a watch client process (>= 85% CPU)")
        if put50 > 0.05:
            found.append(
                f"writes wait to be accepted (PUT p50 {put50 * 1000:,.0f} ms):"
                " events leave the server that much later"
            )
        return "; ".join(found) or "nothing saturated"


def receive(connection: Connection, timeout: float) -> Any:
    if not connection.poll(timeout):
        raise TimeoutError(f"no word from a watch client within {timeout:.0f} s")
    return connection.recv()


async def watch_fanout(
    session: aiohttp.ClientSession,
    server: ServerProcess,
    tls: Tls,
    templates: list[Template],
    load: WatchLoad,
    processes: int,
) -> WatchResult:
    """Watchers in ``processes`` processes; a writer here, paced at ``load.rate``."""
    revision = await list_revision(session, server.url)
    context = multiprocessing.get_context("spawn")
    shares = [len(range(number, load.watchers, processes)) for number in range(processes)]
    clients = []
    for share in shares:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=watch_client,
            args=(server.url, tls, revision, share, load.writes, theirs),
            daemon=True,
        )
        process.start()
        clients.append((process, ours))
    try:
        for _, connection in clients:
            ready = await asyncio.to_thread(receive, connection, READY_TIMEOUT * 3)
            if ready:
                raise RuntimeError(f"watchers failed to start: {ready}")
        with CpuWindow(server) as cpu:
            rate, latencies, errors = await paced_writes(session, server.url, templates, load)
            deadline = time.perf_counter() + WATCH_GRACE
            for _, connection in clients:
                connection.send(deadline)
            results = [
                await asyncio.to_thread(receive, connection, WATCH_GRACE + 60)
                for _, connection in clients
            ]
    finally:
        for process, _ in clients:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    delays = array.array("d")
    outcomes: dict[str, int] = {}
    for result in results:
        delays.frombytes(result["delays"])
        for outcome, count in result["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
        errors += result["errors"]
    return WatchResult(
        load,
        delays,
        rate,
        latencies,
        outcomes,
        [result["cpu"] for result in results],
        cpu,
        errors,
    )


async def paced_writes(
    session: aiohttp.ClientSession,
    url: str,
    templates: list[Template],
    load: WatchLoad,
) -> tuple[float, list[float], list[str]]:
    """Updates at ``load.rate``, round robin over the configmaps, each not awaited.

    Returns the rate they were issued at, their latencies, and why any failed
    (a failed write is counted, not fatal: its event is then missing).
    """
    base = f"{url}/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps/"
    latencies: list[float] = []
    failures: list[str] = []

    async def write(index: int) -> None:
        name, before, after = templates[index % len(templates)]
        sent = time.perf_counter()
        body = before + repr(sent).encode() + after
        try:
            async with session.put(base + name, data=body, headers=JSON) as response:
                await expect(response, 200)
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as error:
            failures.append(f"PUT {name}: {error!r}")
            return
        latencies.append(time.perf_counter() - sent)

    pending = []
    began = time.perf_counter()
    for index in range(load.writes):
        delay = began + index / load.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(write(index)))
    issued = time.perf_counter() - began
    await asyncio.gather(*pending)
    return (load.writes - 1) / issued if issued > 0 else float(load.writes), latencies, failures


def watch_client(
    url: str, tls: Tls, resource_version: str, streams: int, expected: int, parent: Connection
) -> None:
    """A watch client process: ``streams`` watches, each until ``expected`` events arrived."""
    parent.send(uvloop.run(_watch_client(url, tls, resource_version, streams, expected, parent)))


async def _watch_client(
    url: str,
    tls: Tls,
    resource_version: str,
    streams: int,
    expected: int,
    parent: Connection,
) -> dict[str, Any]:
    delays = array.array("d")
    outcomes = {"complete": 0, "ended by the server": 0, "cut at the deadline": 0, "failed": 0}
    errors: list[str] = []
    host, port = url.removeprefix("https://").rsplit(":", 1)
    path = f"/api/v1/namespaces/{WATCH_NAMESPACE}/configmaps"
    request = (
        f"GET {path}?watch=true&resourceVersion={resource_version} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    context = tls.context()
    loop = asyncio.get_running_loop()
    opening = asyncio.Semaphore(64)

    async def open_stream() -> WatchStream:
        async with opening:
            _, stream = await loop.create_connection(
                lambda: WatchStream(request, expected, delays), host, int(port), ssl=context
            )
            await stream.started
        return stream

    results = await asyncio.gather(*(open_stream() for _ in range(streams)), return_exceptions=True)
    failures = [repr(result) for result in results if isinstance(result, BaseException)]
    parent.send(failures[:3])
    opened = [result for result in results if isinstance(result, WatchStream)]
    if failures:
        for stream in opened:
            stream.close()
        return {"delays": b"", "outcomes": outcomes, "errors": failures, "cpu": 0.0}
    began, cpu = time.perf_counter(), time.process_time()
    deadline = await asyncio.to_thread(receive, parent, READY_TIMEOUT * 10)
    await asyncio.wait(
        [stream.finished for stream in opened], timeout=max(0.0, deadline - time.perf_counter())
    )
    share = (time.process_time() - cpu) / (time.perf_counter() - began)
    for stream in opened:
        if not stream.finished.done():
            outcomes["cut at the deadline"] += 1
        elif stream.finished.exception() is not None:
            outcomes["failed"] += 1
            errors.append(repr(stream.finished.exception()))
        else:
            outcomes["complete" if stream.finished.result() else "ended by the server"] += 1
        stream.close()
    return {"delays": delays.tobytes(), "outcomes": outcomes, "errors": errors, "cpu": share}


class WatchStream(asyncio.Protocol):
    """One watch over its own connection, as lean as a client can be, so that the
    machine's CPU goes to the servers: it records each event's delay (receipt minus
    send time) from the raw stream, without decoding HTTP chunks or JSON (the
    servers write whole frames per chunk, so chunk headers never split a frame).

    ``started`` resolves on the response's status line; ``finished`` to True once
    ``expected`` events came, False if the server ended the stream first.
    """

    def __init__(self, request: bytes, expected: int, delays: array.array) -> None:
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[bool] = loop.create_future()
        self._request = request
        self._expected = expected
        self._delays = delays
        self._received = 0
        self._partial = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.started.done():
            if not data.startswith(b"HTTP/1.1 200"):
                self.started.set_exception(RuntimeError(f"watch: {data[:300]!r}"))
                self.close()
                return
            self.started.set_result(None)
        data = self._partial + data
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        sent_times = SENT.findall(data, 0, end)
        delays = self._delays
        for sent in sent_times:
            delays.append(now - float(sent))
        self._received += len(sent_times)
        if self._received >= self._expected:
            self._finish(True)
        elif b"\r\n0\r\n\r\n" in data:  # the last chunk: the server ended the watch
            self._finish(False)

    def _finish(self, complete: bool) -> None:
        if not self.finished.done():
            self.finished.set_result(complete)
        self.close()

    def connection_lost(self, error: Exception | None) -> None:
        if not self.started.done():
            self.started.set_exception(error or RuntimeError("watch: connection closed"))
        if not self.finished.done():
            self.finished.set_result(False)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


# The floor: a bare aiohttp server with the same TLS, answering recorded bytes.


@dataclasses.dataclass
class Fanout:
    """Every watcher gets every published frame, batched as it finds them."""

    frames: list[bytes] = dataclasses.field(default_factory=list)
    published: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def publish(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.published.set()
        self.published = asyncio.Event()


def floor_application(bodies: Path) -> web.Application:
    recorded = {path.stem: path.read_bytes() for path in bodies.glob("*.json")}
    fanout = Fanout()

    def answer(name: str, status: int = 200) -> web.Response:
        return web.Response(body=recorded[name], status=status, content_type="application/json")

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return answer("create", 201)

    async def get(request: web.Request) -> web.Response:
        return answer("pod")

    async def list_pods(request: web.Request) -> web.Response:
        limit = request.query.get("limit")
        return answer("list" if limit is None else f"list-{limit}")

    async def update(request: web.Request) -> web.Response:
        body = await request.read()
        fanout.publish(b'{"type":"MODIFIED","object":' + body + b"}\n")
        return web.Response(body=body, content_type="application/json")

    async def watch(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.json_response({"metadata": {"resourceVersion": "1"}, "items": []})
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        sent = len(fanout.frames)
        await response.prepare(request)
        while True:
            if sent < len(fanout.frames):
                batch = fanout.frames[sent:]
                sent += len(batch)
                await response.write(b"".join(batch))
            else:
                await fanout.published.wait()

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    pods = "/api/v1/namespaces/{namespace}/pods"
    configmaps = "/api/v1/namespaces/{namespace}/configmaps"
    app.router.add_post(pods, create)
    app.router.add_get(pods, list_pods)
    app.router.add_get(pods + "/{name}", get)
    app.router.add_get(configmaps, watch)
    app.router.add_put(configmaps + "/{name}", update)
    app.router.add_get("/readyz", ready)
    return app


async def serve_floor(port: int, pki_dir: Path, bodies: Path) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    runner = web.AppRunner(floor_application(bodies), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    context = Pki(pki_dir).server_ssl_context()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context, backlog=1024).start()
    await stop.wait()
    await runner.cleanup()


# The run.


@dataclasses.dataclass
class Figures:
    creates: Throughput
    gets: WrkRun
    first_list: ListTiming
    list_all: ListTiming
    list_page: ListTiming
    watches: list[WatchResult]
    rss: dict[str, float]


async def measure(
    server: ServerProcess,
    tls: Tls,
    auth: WrkAuth,
    scale: Scale,
    processes: int,
    recorded: dict[str, bytes],
    templates: list[Template] | None,
) -> tuple[Figures, list[Template]]:
    """Every figure against one server; ``templates`` None: create what the API server needs."""
    rss = {"started": server.rss_mib()}
    async with tls.session(scale.concurrency) as session:
        if templates is None:
            for name in (NAMESPACE, WATCH_NAMESPACE):
                namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                async with session.post(
                    f"{server.url}/api/v1/namespaces", data=orjson.dumps(namespace), headers=JSON
                ) as response:
                    await expect(response, 201)
        await warm_up(session, server.url, scale.concurrency)
        progress(f"{server.url}: {scale.pods:,} creates")
        created = await creates(session, server, scale, recorded)
        rss["after creates"] = server.rss_mib()
        progress(f"{server.url}: {scale.get_seconds:g} s of GETs")
        got = await gets(session, server, scale, recorded, auth)
        progress(f"{server.url}: LISTs")
        first_list = await lists(session, server, 1, None, scale.pods, recorded)
        rss["after 1 LIST"] = server.rss_mib()
        list_all = await lists(session, server, scale.list_runs, None, scale.pods, recorded)
        rss[f"after {scale.list_runs + 1} LISTs"] = server.rss_mib()
        list_page = await lists(session, server, scale.list_runs, 500, 500, recorded)
        templates = templates or await prepare_watch(session, server.url)
        watched = []
        for load in scale.watches:
            progress(f"{server.url}: {load.watchers:,} watchers, {load.rate:,.0f} writes/s")
            watched.append(await watch_fanout(session, server, tls, templates, load, processes))
        rss["after watches"] = server.rss_mib()
        rss["peak"] = server.rss_mib("VmHWM")
    figures = Figures(created, got, first_list, list_all, list_page, watched, rss)
    return figures, templates


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def print_figures(scale: Scale, processes: int, ours: Figures, floor: Figures) -> None:
    def pair(title: str, target: str, ours_text: str, floor_text: str) -> None:
        print(f"\n{title}   [target {target}]")
        print(f"  pynetes   {ours_text}")
        print(f"  floor     {floor_text}")

    pair(
        f"pod creates, {scale.pods:,} pods, {scale.concurrency} concurrent clients",
        ">= 2,000/s",
        ours.creates.text("creates"),
        floor.creates.text("creates"),
    )
    pair(
        f"pod GETs for {scale.get_seconds:g} s, {scale.concurrency} connections (wrk)",
        ">= 8,000/s",
        ours.gets.text("GETs"),
        floor.gets.text("GETs"),
    )
    pair(
        f"LIST of {scale.pods:,} pods (no limit), read to the last byte",
        "< 250 ms",
        f"{ours.list_all.text()}\n            the first (cold) LIST: {ours.first_list.text()}",
        f"{floor.list_all.text()}\n            the first (cold) LIST: {floor.first_list.text()}",
    )
    pair(
        "LIST with limit=500, first page",
        "none",
        ours.list_page.text(),
        floor.list_page.text(),
    )
    for load, ours_watch, floor_watch in zip(
        scale.watches, ours.watches, floor.watches, strict=True
    ):
        pair(
            f"watch: {load.watchers:,} watchers of one resource, {load.rate:,.0f} writes/s"
            f" for {load.seconds:g} s, in {processes} client process(es): delivery delay",
            "p99 < 100 ms" if load == scale.watches[0] else "none (where it breaks)",
            ours_watch.text(),
            floor_watch.text(),
        )
    pair(
        f"RSS of the server process, {scale.pods:,} pods stored",
        "< 300 MB",
        "   ".join(f"{name} {mib:.0f} MiB" for name, mib in ours.rss.items()),
        "   ".join(f"{name} {mib:.0f} MiB" for name, mib in floor.rss.items()),
    )


async def run(scale: Scale, processes: int) -> None:
    print(
        f"API server benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]};"
        " pynetes apiserver (SQLite) and the floor (bare aiohttp, same TLS, same bytes)"
        " each in a process of their own",
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as temporary:
        directory = Path(temporary)
        data_dir = directory / "data"
        await asyncio.to_thread(ensure_pki, data_dir / "pki", ips=["127.0.0.1"])
        auth = WrkAuth.create(directory)
        port = free_port()
        command = [sys.executable, "-m", "pynetes", "apiserver", "--data-dir", str(data_dir)]
        command += ["--secure-port", str(port), "--token-auth-file", str(auth.token_file)]
        server = await ServerProcess.start(
            command, port, directory / "apiserver.log", data_dir / "pki"
        )
        progress(f"pynetes apiserver pid {server.process.pid} on {server.url}")
        recorded: dict[str, bytes] = {}
        try:
            tls = Tls.admin(data_dir / "pki", directory)
            ours, templates = await measure(server, tls, auth, scale, processes, recorded, None)
        finally:
            await server.stop()
        bodies = directory / "bodies"
        bodies.mkdir()
        for name, body in recorded.items():
            (bodies / f"{name}.json").write_bytes(body)
        port = free_port()
        command = [sys.executable, __file__, "--floor-server", str(port)]
        command += ["--pki-dir", str(data_dir / "pki"), "--bodies", str(bodies)]
        floor_server = await ServerProcess.start(
            command, port, directory / "floor.log", data_dir / "pki"
        )
        progress(f"floor pid {floor_server.process.pid} on {floor_server.url}")
        try:
            floor, _ = await measure(floor_server, tls, auth, scale, processes, {}, templates)
        finally:
            await floor_server.stop()
    print_figures(scale, processes, ours, floor)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench/apiserver.py needs wrk, the HTTP load generator: apt-get install wrk")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, to check it works")
    parser.add_argument("--watch-processes", type=int, default=2)
    parser.add_argument("--floor-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--pki-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.floor_server is not None:
        uvloop.run(serve_floor(arguments.floor_server, arguments.pki_dir, arguments.bodies))
        return
    uvloop.run(run(QUICK if arguments.quick else FULL, arguments.watch_processes))


if __name__ == "__main__":
    main()
