"""Exec, attach, port-forward and log reopening against real container processes."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from pynetes.kubelet.runtime.interface import ContainerState, RuntimeFailure

from .conftest import Pod, log_contains, log_entries

TIMEOUT = 10.0


async def read_until(stream: asyncio.StreamReader | None, text: bytes) -> bytes:
    assert stream is not None
    seen = b""
    while text not in seen:
        chunk = await asyncio.wait_for(stream.read(4096), TIMEOUT)
        if not chunk:
            raise AssertionError(f"EOF before {text!r}; got {seen!r}")
        seen += chunk
    return seen


async def test_exec_sync_sees_the_container_env_and_working_dir(pod: Pod, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    container_id = await pod.run(
        command=["sleep", "300"], env=[("GREETING", "hello")], working_dir=str(workdir)
    )
    result = await pod.runtime.exec_sync(
        container_id, ["sh", "-c", 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 5'], 10
    )
    assert result.exit_code == 5
    assert result.stdout == f"hello from {workdir}\n".encode()
    assert result.stderr == b"oops\n"
    assert not result.timed_out


async def test_exec_sync_is_killed_at_its_time_limit(pod: Pod) -> None:
    container_id = await pod.run(command=["sleep", "300"])
    result = await pod.runtime.exec_sync(container_id, ["sleep", "300"], 0.3)
    assert result.timed_out


async def test_exec_needs_a_running_container(pod: Pod) -> None:
    container_id = await pod.run(command=["true"])
    await pod.exited(container_id)
    with pytest.raises(RuntimeFailure):
        await pod.runtime.exec_sync(container_id, ["true"], 5)


async def test_exec_stream_with_stdin(pod: Pod) -> None:
    container_id = await pod.run(command=["sleep", "300"])
    session = await pod.runtime.exec(
        container_id,
        ["sh", "-c", "cat; echo done >&2"],
        tty=False,
        stdin=True,
        stdout=True,
        stderr=True,
    )
    await session.write_stdin(b"line one\n")
    assert await read_until(session.stdout, b"line one\n") == b"line one\n"
    await session.close_stdin()
    await read_until(session.stderr, b"done")
    assert await asyncio.wait_for(session.wait(), TIMEOUT) == 0
    await session.close()


async def test_exec_on_a_tty_with_a_window_size(pod: Pod) -> None:
    container_id = await pod.run(command=["sleep", "300"])
    session = await pod.runtime.exec(
        container_id,
        ["sh", "-c", "read go; stty size; tty"],
        tty=True,
        stdin=True,
        stdout=True,
        stderr=True,
    )
    assert session.stderr is None  # a terminal has one output
    session.resize(100, 40)
    await session.write_stdin(b"go\n")
    output = await read_until(session.stdout, b"/dev/pts/")
    assert b"40 100" in output
    assert await asyncio.wait_for(session.wait(), TIMEOUT) == 0
    await session.close()


async def test_closing_an_exec_session_kills_its_process(pod: Pod) -> None:
    container_id = await pod.run(command=["sleep", "300"])
    session = await pod.runtime.exec(
        container_id, ["sleep", "300"], tty=False, stdin=False, stdout=True, stderr=False
    )
    await session.close()
    assert await session.wait() == 137


async def test_attach_feeds_stdin_and_follows_output(pod: Pod) -> None:
    script = 'while read line; do echo "got $line"; done; echo bye; exit 3'
    container_id = await pod.run(command=["sh", "-c", script], stdin=True, stdin_once=True)
    session = await pod.runtime.attach(
        container_id, tty=False, stdin=True, stdout=True, stderr=True
    )
    await session.write_stdin(b"a\n")
    await read_until(session.stdout, b"got a\n")
    await session.close_stdin()  # stdin_once: the container sees EOF
    await read_until(session.stdout, b"bye\n")
    assert await asyncio.wait_for(session.wait(), TIMEOUT) == 3
    await session.close()
    status = await pod.exited(container_id)
    assert [e.content for e in log_entries(status.log_path)] == [b"got a\n", b"bye\n"]


async def test_stdin_after_the_container_exited_loses_none_of_its_output(pod: Pod) -> None:
    """A client may still send stdin (or close it) once the container is gone; the
    output and exit code it has not read yet still reach it."""
    container_id = await pod.run(command=["sh", "-c", "read name; echo hello $name"], stdin=True)
    session = await pod.runtime.attach(
        container_id, tty=False, stdin=True, stdout=True, stderr=True
    )
    await session.write_stdin(b"world\n")
    await pod.exited(container_id)
    await session.write_stdin(b"too late\n")
    await session.close_stdin()
    assert session.stdout is not None
    assert await asyncio.wait_for(session.stdout.read(), TIMEOUT) == b"hello world\n"
    assert await asyncio.wait_for(session.wait(), TIMEOUT) == 0
    await session.close()


async def test_detaching_ends_stdin_once_but_not_the_container_without_it(pod: Pod) -> None:
    container_id = await pod.run(
        "kept", command=["sh", "-c", "cat; echo eof"], stdin=True, stdin_once=False
    )
    session = await pod.runtime.attach(
        container_id, tty=False, stdin=True, stdout=True, stderr=False
    )
    await session.write_stdin(b"first\n")
    await read_until(session.stdout, b"first\n")
    await session.close()
    again = await pod.runtime.attach(container_id, tty=False, stdin=True, stdout=True, stderr=False)
    await again.write_stdin(b"second\n")
    await read_until(again.stdout, b"second\n")
    await again.close()
    assert (await pod.runtime.container_status(container_id)).state is ContainerState.RUNNING


async def test_attach_to_a_tty_container(pod: Pod) -> None:
    container_id = await pod.run(command=["sh", "-i"], stdin=True, tty=True)
    session = await pod.runtime.attach(container_id, tty=True, stdin=True, stdout=True, stderr=True)
    session.resize(120, 30)
    await session.write_stdin(b"echo $((6 * 7)); stty size\n")
    output = await read_until(session.stdout, b"30 120")
    assert b"42" in output
    await session.write_stdin(b"exit 2\n")
    assert await asyncio.wait_for(session.wait(), TIMEOUT) == 2
    await session.close()


async def test_port_forward_reaches_a_server_in_the_pod(pod: Pod) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = (
        "import socket\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "print('listening', flush=True)\n"
        "c, _ = s.accept()\n"
        "c.sendall(c.recv(100).upper())\n"
    )
    container_id = await pod.run(command=[sys.executable, "-c", server])
    status = await pod.runtime.container_status(container_id)
    await log_contains(status.log_path, b"listening")
    reader, writer = await pod.runtime.port_forward(pod.id, port)
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.read(100), TIMEOUT) == b"PING"
    writer.close()
    assert (await pod.exited(container_id)).exit_code == 0


async def test_reopen_starts_a_new_log_file_after_rotation(pod: Pod, tmp_path: Path) -> None:
    release = tmp_path / "release"
    script = f"echo one; while [ ! -e {release} ]; do sleep 0.05; done; echo two"
    container_id = await pod.run(command=["sh", "-c", script])
    log_path = (await pod.runtime.container_status(container_id)).log_path
    await log_contains(log_path, b"one")
    rotated = Path(log_path + ".1")
    os.rename(log_path, rotated)
    await pod.runtime.reopen_container_log(container_id)
    release.touch()
    await pod.exited(container_id)
    assert [e.content for e in log_entries(str(rotated))] == [b"one\n"]
    assert [e.content for e in log_entries(log_path)] == [b"two\n"]
