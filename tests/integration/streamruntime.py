"""A minimal runtime and pod table for the kubelet server tests.

Only what the server calls: container_status (with a real CRI log file the
test writes), exec as a REAL subprocess, attach to a container's main
process (a real subprocess the test starts), port_forward as a real TCP
connection on 127.0.0.1, reopen_container_log. The real process runtime
lives in pynetes/kubelet/runtime/process/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import ContainerState, ContainerStatus

Object = dict[str, Any]


class ProcessSession:
    """An exec session over an asyncio subprocess."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.sizes: list[tuple[int, int]] = []

    async def write_stdin(self, data: bytes) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(data)
        await self._process.stdin.drain()

    async def close_stdin(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()

    def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    async def wait(self) -> int:
        return await self._process.wait()

    async def close(self) -> None:
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


class AttachedSession(ProcessSession):
    """The streams of a container's main process: leaving does not stop it."""

    async def close(self) -> None:
        return None


@dataclass
class Container:
    status: ContainerStatus
    workdir: Path
    main: asyncio.subprocess.Process | None = None

    async def start(self, *command: str) -> None:
        """Run the container's main process, its streams open for attach."""
        pipe = asyncio.subprocess.PIPE
        self.main = await asyncio.create_subprocess_exec(
            *command, cwd=self.workdir, stdin=pipe, stdout=pipe, stderr=pipe
        )

    def log(self, content: bytes, stream: bytes = crilog.STDOUT) -> None:
        """Append one CRI entry to the container's log, as a runtime would."""
        with open(self.status.log_path, "ab") as file:
            file.write(crilog.encode(time.time_ns(), stream, content))

    def exit(self, code: int = 0) -> None:
        self.status = replace(self.status, state=ContainerState.EXITED, exit_code=code)


@dataclass
class StreamRuntime:
    """RuntimeService methods the kubelet server uses, over real processes and files."""

    root: Path
    containers: dict[str, Container] = field(default_factory=dict)

    def add(self, container_id: str, name: str) -> Container:
        workdir = self.root / container_id
        workdir.mkdir(parents=True)
        status = ContainerStatus(
            id=container_id,
            sandbox_id="sandbox",
            name=name,
            attempt=0,
            state=ContainerState.RUNNING,
            image="busybox",
            image_ref="busybox",
            created_at=time.time_ns(),
            log_path=str(workdir / "0.log"),
        )
        Path(status.log_path).touch()
        self.containers[container_id] = Container(status, workdir)
        return self.containers[container_id]

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self.containers[container_id].status

    async def exec(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> ProcessSession:
        pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=self.containers[container_id].workdir,
            stdin=pipe if stdin else devnull,
            stdout=pipe if stdout else devnull,
            stderr=pipe if stderr else devnull,
        )
        return ProcessSession(process)

    async def attach(
        self, container_id: str, *, tty: bool, stdin: bool, stdout: bool, stderr: bool
    ) -> AttachedSession:
        main = self.containers[container_id].main
        assert main is not None, "the test starts the main process before attaching"
        return AttachedSession(main)

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    async def reopen_container_log(self, container_id: str) -> None:
        await asyncio.to_thread(Path(self.containers[container_id].status.log_path).touch)


@dataclass
class PodTable:
    """The RunningPods of the tests: pods by namespace/name, containers by name."""

    runtime: StreamRuntime
    objects: dict[tuple[str, str], Object] = field(default_factory=dict)
    #: (namespace, pod, container) -> [container ids, oldest first]
    instances: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def run(self, pod: Object) -> dict[str, Container]:
        """Run every container of ``pod``; the runtime's containers by name."""
        metadata = pod["metadata"]
        key = (metadata["namespace"], metadata["name"])
        self.objects[key] = pod
        started = {}
        for spec in pod["spec"]["containers"]:
            started[spec["name"]] = self.restart(*key, spec["name"])
        return started

    def restart(self, namespace: str, pod: str, container: str) -> Container:
        ids = self.instances.setdefault((namespace, pod, container), [])
        container_id = f"{pod}-{container}-{len(ids)}"
        ids.append(container_id)
        return self.runtime.add(container_id, container)

    def pods(self) -> list[Object]:
        return list(self.objects.values())

    def pod(self, namespace: str, name: str) -> Object | None:
        return self.objects.get((namespace, name))

    def container_id(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> str | None:
        ids = self.instances.get((namespace, pod, container), [])
        wanted = -2 if previous else -1
        return ids[wanted] if len(ids) >= -wanted else None

    def sandbox_id(self, namespace: str, pod: str) -> str | None:
        return "sandbox" if (namespace, pod) in self.objects else None
