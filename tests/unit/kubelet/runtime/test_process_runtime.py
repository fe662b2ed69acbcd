"""The process runtime's container lifecycle with real processes: exit codes and reasons,
CRI logs, stop with a grace period, sandboxes, events, and adoption after a kubelet dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import (
    ContainerEvent,
    ContainerState,
    PodSandboxConfig,
    RuntimeFailure,
    SandboxState,
)
from pynetes.kubelet.runtime.process import ImageCatalog, ProcessRuntime, StartContainerError

from .conftest import Pod, log_contains, log_entries, until


async def test_exit_code_reason_and_both_streams_in_the_cri_log(pod: Pod) -> None:
    events: list[ContainerEvent] = []
    pod.runtime.subscribe(events.append)
    container_id = await pod.run(command=["sh", "-c", "echo hi; echo err >&2; exit 3"])
    status = await pod.exited(container_id)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert status.started_at <= status.finished_at
    entries = log_entries(status.log_path)
    assert {(e.stream, e.content) for e in entries} == {
        (crilog.STDOUT, b"hi\n"),
        (crilog.STDERR, b"err\n"),
    }
    assert [e.state for e in events] == [ContainerState.RUNNING, ContainerState.EXITED]
    assert events[0].pod_uid == "uid-1"


async def test_a_zero_exit_is_completed_and_statuses_are_listed(pod: Pod) -> None:
    created = await pod.create("late", command=["true"])
    done = await pod.run("done", command=["true"])
    status = await pod.exited(done)
    assert (status.exit_code, status.reason) == (0, "Completed")
    listed = {s.name: s.state for s in await pod.runtime.list_containers(pod.id)}
    assert listed == {"late": ContainerState.CREATED, "done": ContainerState.EXITED}
    assert (await pod.runtime.container_status(created)).started_at == 0


async def test_a_line_longer_than_the_buffer_is_split_into_partial_entries(pod: Pod) -> None:
    line = "x" * 40_000
    container_id = await pod.run(command=[sys.executable, "-c", f"print('{line}')"])
    status = await pod.exited(container_id)
    entries = log_entries(status.log_path)
    assert [e.full for e in entries] == [False, False, True]
    assert b"".join(e.content for e in entries) == line.encode() + b"\n"


async def test_stop_terminates_then_kills_after_the_grace_period(pod: Pod) -> None:
    polite = await pod.run("polite", command=["sleep", "300"])
    stubborn = await pod.run(
        "stubborn",
        command=["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"],
    )
    await log_contains(str(Path(pod.config.log_directory) / "stubborn/0.log"), b"ready")
    await pod.runtime.stop_container(polite, 10)
    status = await pod.runtime.container_status(polite)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 143, "Error")
    started = time.monotonic()
    await pod.runtime.stop_container(stubborn, 0.5)
    assert time.monotonic() - started >= 0.5  # it outlived SIGTERM: the grace period passed
    status = await pod.runtime.container_status(stubborn)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 137)


async def test_what_the_main_process_leaves_behind_dies_with_it(pod: Pod, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    container_id = await pod.run(command=["sh", "-c", f"sleep 300 & echo $! > {pid_file}"])
    await pod.exited(container_id)
    child = int(pid_file.read_text())
    await until(lambda: _alive(child), lambda alive: not alive)


async def test_an_executable_that_is_not_there_is_a_start_error(pod: Pod) -> None:
    container_id = await pod.create(command=["/no/such/binary"])
    with pytest.raises(StartContainerError) as failure:
        await pod.runtime.start_container(container_id)
    assert failure.value.reason == "RunContainerError"
    status = await pod.runtime.container_status(container_id)
    assert (status.state, status.exit_code, status.reason) == (
        ContainerState.EXITED,
        128,
        "StartError",
    )
    assert "/no/such/binary" in status.message


async def test_sandboxes_have_the_node_ip_and_stop_and_remove_their_containers(
    runtime: ProcessRuntime, tmp_path: Path
) -> None:
    config = PodSandboxConfig(name="p", namespace="ns", uid="u-9", log_directory=str(tmp_path))
    pod = Pod(runtime, await runtime.run_pod_sandbox(config), config)
    status = await runtime.pod_sandbox_status(pod.id)
    assert (status.state, status.ip, status.uid) == (SandboxState.READY, "127.0.0.1", "u-9")
    container_id = await pod.run(command=["sleep", "300"])
    await runtime.stop_pod_sandbox(pod.id)
    assert (await runtime.pod_sandbox_status(pod.id)).state is SandboxState.NOTREADY
    assert (await runtime.container_status(container_id)).exit_code == 137
    with pytest.raises(RuntimeFailure):
        await pod.create("late", command=["true"])
    await runtime.remove_pod_sandbox(pod.id)
    await runtime.stop_pod_sandbox(pod.id)  # idempotent, as CRI asks
    assert await runtime.list_pod_sandboxes() == []
    assert await runtime.list_containers() == []
    with pytest.raises(RuntimeFailure):
        await runtime.container_status(container_id)


async def test_a_new_runtime_adopts_running_and_exited_containers(pod: Pod, tmp_path: Path) -> None:
    release = tmp_path / "release"
    waits = await pod.run(
        "waits", command=["sh", "-c", f"while [ ! -e {release} ]; do sleep 0.05; done; exit 7"]
    )
    quick = await pod.run("quick", command=["sh", "-c", "exit 4"])
    await pod.exited(quick)
    # The first runtime is dropped without stopping anything, as a killed kubelet would be.
    second = ProcessRuntime(pod.runtime.state_dir, images=ImageCatalog(None))
    events: list[ContainerEvent] = []
    second.subscribe(events.append)
    statuses = {s.name: s for s in await second.list_containers()}
    assert statuses["waits"].state is ContainerState.RUNNING
    assert (statuses["quick"].state, statuses["quick"].exit_code) == (ContainerState.EXITED, 4)
    assert [s.id for s in await second.list_pod_sandboxes()] == [pod.id]
    release.touch()
    status = await until(
        lambda: second.container_status(waits), lambda s: s.state is ContainerState.EXITED
    )
    assert status.exit_code == 7
    assert [(e.container_id, e.state) for e in events] == [(waits, ContainerState.EXITED)]
    await second.close()


async def test_containers_survive_a_kill_9_of_the_kubelet_and_are_adopted(tmp_path: Path) -> None:
    """The runtime runs in a process that is SIGKILLed; its container keeps running."""
    state = tmp_path / "state"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from pynetes.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
        from pynetes.kubelet.runtime.process import ImageCatalog, ProcessRuntime

        async def main():
            runtime = ProcessRuntime(Path({str(state)!r}), images=ImageCatalog(None))
            sandbox = PodSandboxConfig(
                name="p", namespace="ns", uid="u", log_directory={str(tmp_path)!r})
            sandbox_id = await runtime.run_pod_sandbox(sandbox)
            config = ContainerConfig(
                name="c", image="busybox", command=["sh", "-c", "echo up; sleep 300"],
                log_path="c.log")
            container_id = await runtime.create_container(sandbox_id, config, sandbox)
            await runtime.start_container(container_id)
            print(container_id, flush=True)
            await asyncio.sleep(300)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[4])}
    kubelet = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, env=env
    )
    assert kubelet.stdout is not None
    container_id = (await kubelet.stdout.readline()).decode().strip()
    kubelet.send_signal(signal.SIGKILL)
    await kubelet.wait()
    runtime = ProcessRuntime(state, images=ImageCatalog(None))
    try:
        status = await runtime.container_status(container_id)
        assert status.state is ContainerState.RUNNING
        await log_contains(status.log_path, b"up")
        await runtime.stop_container(container_id, 5)
        assert (await runtime.container_status(container_id)).exit_code == 143
    finally:
        for sandbox in await runtime.list_pod_sandboxes():
            await runtime.remove_pod_sandbox(sandbox.id)
        await runtime.close()


async def test_a_reused_shim_pid_is_not_mistaken_for_the_shim(pod: Pod) -> None:
    container_id = await pod.run(command=["sh", "-c", "exit 0"])
    await pod.exited(container_id)
    directory = pod.runtime.state_dir / "containers" / container_id
    started = json.loads((directory / "started.json").read_text())
    # As if the shim died unrecorded and its pid now belonged to another process (ours).
    started.update(shim_pid=os.getpid(), shim_start=1)
    (directory / "started.json").write_text(json.dumps(started))
    (directory / "exited.json").unlink()
    adopter = ProcessRuntime(pod.runtime.state_dir, images=ImageCatalog(None))
    status = await adopter.container_status(container_id)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 255)
    await adopter.close()


async def test_fifty_containers_start_concurrently(pod: Pod) -> None:
    started = time.monotonic()
    ids = await asyncio.gather(*(pod.run(f"c{i}", command=["sleep", "300"]) for i in range(50)))
    elapsed = time.monotonic() - started
    statuses = await pod.runtime.list_containers(pod.id)
    assert {s.id for s in statuses if s.state is ContainerState.RUNNING} == set(ids)
    print(f"50 containers created and started in {elapsed:.2f} s")
    await asyncio.gather(*(pod.runtime.stop_container(i, 5) for i in ids))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_container_whose_shim_was_killed_is_ended_and_reported(pod: Pod) -> None:
    events: list[ContainerEvent] = []
    pod.runtime.subscribe(events.append)
    container_id = await pod.run(command=["sleep", "300"])
    directory = pod.runtime.state_dir / "containers" / container_id
    started = json.loads((directory / "started.json").read_text())
    os.kill(started["shim_pid"], signal.SIGKILL)
    status = await pod.exited(container_id)
    assert (status.exit_code, status.reason) == (255, "Error")
    assert "shim" in status.message
    await until(lambda: _alive(started["pid"]), lambda alive: not alive)
    assert events[-1].state is ContainerState.EXITED
