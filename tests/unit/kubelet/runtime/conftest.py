"""A ProcessRuntime on a temporary state dir, and helpers that run real containers."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    PodSandboxConfig,
)
from pynetes.kubelet.runtime.process import ImageCatalog, ProcessRuntime
from tests.conftest import require

DEADLINE = 15.0


@dataclass
class Pod:
    """A sandbox of the runtime under test, and a way to run containers in it."""

    runtime: ProcessRuntime
    id: str
    config: PodSandboxConfig

    async def create(self, name: str = "c", **config: object) -> str:
        config.setdefault("image", "busybox")
        config.setdefault("log_path", f"{name}/0.log")
        return await self.runtime.create_container(
            self.id, ContainerConfig(name=name, **config), self.config
        )

    async def run(self, name: str = "c", **config: object) -> str:
        container_id = await self.create(name, **config)
        await self.runtime.start_container(container_id)
        return container_id

    async def exited(self, container_id: str) -> ContainerStatus:
        return await until(
            lambda: self.runtime.container_status(container_id),
            lambda status: status.state is ContainerState.EXITED,
        )


async def until(
    probe: Callable[[], object], done: Callable[[object], bool], deadline: float = DEADLINE
) -> object:
    """Polls ``probe`` (sync or async) until ``done`` says yes; fails after ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if done(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"still {value!r} after {deadline} s")
        await asyncio.sleep(0.02)


def log_entries(path: str) -> list[crilog.LogEntry]:
    with open(path, "rb") as log:
        return [crilog.parse(line) for line in log]


async def log_contains(path: str, text: bytes) -> list[crilog.LogEntry]:
    """Waits until the CRI log at ``path`` has a full line containing ``text``."""
    return await until(
        lambda: log_entries(path) if os.path.exists(path) else [],
        lambda entries: any(text in entry.content for entry in entries),
    )


def require_cgroups() -> None:
    """cgroup v1 memory and cpu writable (root here): skipped without, except in CI."""
    root = Path("/sys/fs/cgroup")
    writable = all(os.access(root / controller, os.W_OK) for controller in ("memory", "cpu"))
    require(writable, "writable cgroup v1 memory/cpu hierarchies")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ProcessRuntime]:
    runtime = ProcessRuntime(tmp_path / "state", images=ImageCatalog(tmp_path / "images.yaml"))
    yield runtime
    for sandbox in await runtime.list_pod_sandboxes():
        await runtime.remove_pod_sandbox(sandbox.id)
    await runtime.close()


@pytest.fixture
async def pod(runtime: ProcessRuntime, tmp_path: Path) -> Pod:
    config = PodSandboxConfig(
        name="web", namespace="default", uid="uid-1", log_directory=str(tmp_path / "logs")
    )
    return Pod(runtime, await runtime.run_pod_sandbox(config), config)
