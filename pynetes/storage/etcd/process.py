"""Running real etcd servers on loopback: for ``pynetes up --storage etcd`` and for tests.

:class:`EtcdCluster` starts one or more etcd members on 127.0.0.1 only (never
another interface: the members have no authentication and no TLS), each with
a data directory and a log file under the cluster's directory, and waits
until every member reports itself healthy.

Ports are chosen free at the first start and recorded in ``cluster.json`` in
the data directory, so that starting the same directory again brings the
same cluster back at the same addresses (etcd remembers its members' peer
URLs in its data; a member restarted on new ports would not find its peers).

Processes are plain :class:`subprocess.Popen` children rather than asyncio
subprocesses, so a cluster does not belong to the event loop that started it
(pytest fixtures may start and stop it from different loops), and an
``atexit`` hook kills members still running when the interpreter exits, so a
crashed test run leaves no etcd behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pynetes.storage.interface import MAX_VALUE_BYTES

HOST = "127.0.0.1"
#: How long start() waits for every member to answer /health.
START_TIMEOUT = 20.0
#: How long stop() lets a member shut down after SIGTERM before SIGKILL.
STOP_TIMEOUT = 10.0
#: Room above the largest value for the key and the request's own encoding:
#: etcd counts the whole raft request against ``--max-request-bytes``.
REQUEST_OVERHEAD_BYTES = 64 * 1024
LOG_TAIL_BYTES = 4000
_CLUSTER_FILE = "cluster.json"
_HEALTH_POLL_INTERVAL = 0.05


class EtcdStartError(RuntimeError):
    """etcd could not be started or did not become healthy in time."""


@dataclass(frozen=True, slots=True)
class MemberSpec:
    """Name and ports of one member; recorded in ``cluster.json``."""

    name: str
    client_port: int
    peer_port: int

    @property
    def client_url(self) -> str:
        return f"http://{HOST}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{HOST}:{self.peer_port}"


class EtcdCluster:
    """A running set of etcd members on loopback. Start one with :meth:`start`.

    ``endpoints`` are the members' client URLs, in member order; pass them to
    :meth:`pynetes.storage.etcd.EtcdStore.open`.
    """

    def __init__(
        self, data_dir: Path, specs: list[MemberSpec], processes: list[subprocess.Popen[bytes]]
    ) -> None:
        self.data_dir = data_dir
        self.members = specs
        self.endpoints = [spec.client_url for spec in specs]
        self._processes = processes
        self._stopped = False
        atexit.register(self._kill_all)

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        members: int = 1,
        etcd_binary: str = "etcd",
        start_timeout: float = START_TIMEOUT,
    ) -> EtcdCluster:
        """Start ``members`` etcd processes with data under ``data_dir``; wait until healthy.

        A directory started before is started again with its recorded member
        names and ports (``members`` must match). Raises EtcdStartError, with
        the tail of each failing member's log, if etcd is missing, exits, or
        is not healthy within ``start_timeout`` seconds; nothing is left
        running then.
        """
        if members < 1:
            raise ValueError("an etcd cluster needs at least one member")
        binary = shutil.which(etcd_binary)
        if binary is None:
            raise EtcdStartError(f"etcd binary {etcd_binary!r} not found on PATH")
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        specs = _load_or_create_specs(data_dir, members)
        token = _cluster_token(data_dir)
        cluster = cls(data_dir, specs, [])
        try:
            for spec in specs:
                cluster._processes.append(_launch(binary, data_dir, spec, specs, token))
            await cluster._wait_healthy(start_timeout)
        except BaseException:
            await cluster._abort()
            raise
        return cluster

    def log_path(self, index: int) -> Path:
        """The file member ``index`` writes its log (stdout and stderr) to."""
        return _log_path(self.data_dir, self.members[index])

    def is_running(self, index: int) -> bool:
        return self._processes[index].poll() is None

    def kill(self, index: int) -> None:
        """SIGKILL member ``index``, as a crash would (fault tests). Does not wait."""
        process = self._processes[index]
        if process.poll() is None:
            process.kill()

    async def stop(self) -> None:
        """Stop every member and wait for it to exit; idempotent.

        Members stop one at a time (SIGTERM, then SIGKILL after STOP_TIMEOUT):
        a leader told to stop hands leadership to a live follower first, and
        when every member stops at once it waits seconds for a handover that
        cannot happen.
        """
        if self._stopped:
            return
        self._stopped = True
        await asyncio.to_thread(self._terminate_one_by_one)
        atexit.unregister(self._kill_all)

    async def __aenter__(self) -> EtcdCluster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _terminate_one_by_one(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
            process.wait()

    async def _abort(self) -> None:
        """Kill every member of a cluster that failed to start, and wait for them."""
        self._stopped = True
        self._kill_all()
        for process in self._processes:
            await asyncio.to_thread(process.wait)
        atexit.unregister(self._kill_all)

    def _kill_all(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()

    async def _wait_healthy(self, within: float) -> None:
        deadline = time.monotonic() + within
        pending = set(range(len(self.members)))
        while pending:
            for index in sorted(pending):
                self._check_alive(index)
                if await _healthy(self.members[index].client_port):
                    pending.discard(index)
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise EtcdStartError(
                    f"etcd members {sorted(pending)} of {self.data_dir} not healthy after "
                    f"{within:.0f}s:\n" + "\n".join(self._log_tail(i) for i in sorted(pending))
                )
            await asyncio.sleep(_HEALTH_POLL_INTERVAL)

    def _check_alive(self, index: int) -> None:
        code = self._processes[index].poll()
        if code is not None:
            raise EtcdStartError(
                f"etcd member {self.members[index].name} exited with status {code} while "
                f"starting:\n{self._log_tail(index)}"
            )

    def _log_tail(self, index: int) -> str:
        path = self.log_path(index)
        try:
            with path.open("rb") as log:
                log.seek(max(path.stat().st_size - LOG_TAIL_BYTES, 0))
                tail = log.read().decode("utf-8", "replace")
        except OSError as error:
            tail = f"(no log: {error})"
        return f"--- {path} ---\n{tail}"


def _load_or_create_specs(data_dir: Path, members: int) -> list[MemberSpec]:
    """The recorded members of ``data_dir``, or new ones on free loopback ports."""
    path = data_dir / _CLUSTER_FILE
    if path.exists():
        recorded = json.loads(path.read_text())
        specs = [MemberSpec(**member) for member in recorded["members"]]
        if len(specs) != members:
            raise EtcdStartError(f"{path} records a cluster of {len(specs)} members, not {members}")
        return specs
    ports = _free_ports(2 * members)
    specs = [
        MemberSpec(f"member-{i}", client_port=ports[2 * i], peer_port=ports[2 * i + 1])
        for i in range(members)
    ]
    body = {
        "token": f"pynetes-{secrets.token_hex(8)}",
        "members": [
            {"name": s.name, "client_port": s.client_port, "peer_port": s.peer_port} for s in specs
        ],
    }
    path.write_text(json.dumps(body, indent=2))
    return specs


def _cluster_token(data_dir: Path) -> str:
    return str(json.loads((data_dir / _CLUSTER_FILE).read_text())["token"])


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nothing listens on right now.

    All sockets are held open until every port is chosen, so the kernel
    cannot hand the same port out twice.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((HOST, 0))
            ports.append(sock.getsockname()[1])
        return ports


def _log_path(data_dir: Path, spec: MemberSpec) -> Path:
    return data_dir / f"{spec.name}.log"


def _launch(
    binary: str, data_dir: Path, spec: MemberSpec, specs: list[MemberSpec], token: str
) -> subprocess.Popen[bytes]:
    initial_cluster = ",".join(f"{s.name}={s.peer_url}" for s in specs)
    command = [
        binary,
        f"--name={spec.name}",
        f"--data-dir={data_dir / spec.name}",
        f"--listen-client-urls={spec.client_url}",
        f"--advertise-client-urls={spec.client_url}",
        f"--listen-peer-urls={spec.peer_url}",
        f"--initial-advertise-peer-urls={spec.peer_url}",
        f"--initial-cluster={initial_cluster}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={token}",
        f"--max-request-bytes={MAX_VALUE_BYTES + REQUEST_OVERHEAD_BYTES}",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",
    ]
    # etcd 3.4 reads ETCD_* variables as flags; a stray one must not reconfigure it.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    with _log_path(data_dir, spec).open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=environment,
            cwd=data_dir,
        )


async def _healthy(port: int) -> bool:
    """Whether the member at ``port`` answers ``/health`` with ``{"health": "true"}``.

    etcd reports healthy once the member has a leader and no alarm: then it
    serves requests.
    """
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET /health HTTP/1.0\r\nHost: {HOST}:{port}\r\n\r\n".encode("ascii"))
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 2.0)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    _, _, body = response.partition(b"\r\n\r\n")
    try:
        return bool(json.loads(body).get("health") == "true")
    except (ValueError, AttributeError):
        return False
