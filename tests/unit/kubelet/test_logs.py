"""Reading CRI log files as kubectl logs shows them, following them, and rotating them."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from pynetes.kubelet import logs
from pynetes.kubelet.logs import LogOptions, read_logs, rotate_if_needed
from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import ContainerState, ContainerStatus

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def entry(seconds: float, content: bytes, stream: bytes = crilog.STDOUT) -> bytes:
    return crilog.encode(T0 + int(seconds * SECOND), stream, content)


def write(path: Path, *entries: bytes) -> None:
    with path.open("ab") as file:
        file.write(b"".join(entries))


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_content_only_with_partial_lines_joined_and_both_streams(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(
        path,
        entry(0, b"one\n"),
        entry(1, b"tw"),
        entry(2, b"o\n"),
        entry(3, b"oops\n", crilog.STDERR),
    )
    assert await collect(read_logs(path, LogOptions())) == b"one\ntwo\noops\n"


async def test_a_line_still_being_written_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    whole = entry(0, b"whole\n")
    write(path, whole, entry(1, b"torn\n")[:20])
    assert await collect(read_logs(path, LogOptions())) == b"whole\n"
    assert await collect(read_logs(path, LogOptions(tail_lines=1))) == b"whole\n"


async def test_timestamps_prefix_each_line_with_its_first_entry_time(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(path, entry(0.5, b"a\n"), entry(1, b"long "), entry(2, b"line\n"))
    out = await collect(read_logs(path, LogOptions(timestamps=True)))
    assert out == (
        b"2023-11-14T22:13:20.5Z a\n"  # T0 is 2023-11-14T22:13:20Z
        b"2023-11-14T22:13:21Z long line\n"
    )


async def test_tail_counts_joined_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(path, *(entry(i, b"line %d\n" % i) for i in range(5)))
    write(path, entry(5, b"par"), entry(6, b"tial\n"), entry(7, b"last\n"))
    assert await collect(read_logs(path, LogOptions(tail_lines=2))) == b"partial\nlast\n"
    assert await collect(read_logs(path, LogOptions(tail_lines=0))) == b""
    everything = await collect(read_logs(path, LogOptions(tail_lines=100)))
    assert everything.startswith(b"line 0\n") and everything.endswith(b"last\n")


async def test_tail_of_a_file_bigger_than_a_read_block(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(path, *(entry(i, b"%06d %s\n" % (i, b"x" * 100)) for i in range(3000)))
    out = await collect(read_logs(path, LogOptions(tail_lines=1500)))
    lines = out.splitlines()
    assert len(lines) == 1500 and lines[0].startswith(b"001500 ")


async def test_since_skips_older_entries_and_limit_bytes_cuts(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(path, entry(0, b"old\n"), entry(10, b"new\n"), entry(11, b"newer\n"))
    since = LogOptions(since_ns=T0 + 10 * SECOND)
    assert await collect(read_logs(path, since)) == b"new\nnewer\n"
    assert await collect(read_logs(path, LogOptions(limit_bytes=6))) == b"old\nne"


@dataclass
class FakeRuntime:
    """container_status and reopen_container_log of one container, over a real file."""

    status: ContainerStatus
    reopened: int = 0

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self.status

    async def reopen_container_log(self, container_id: str) -> None:
        self.reopened += 1
        await asyncio.to_thread(Path(self.status.log_path).touch)


def running_container(path: Path) -> ContainerStatus:
    return ContainerStatus(
        id="c1",
        sandbox_id="s1",
        name="app",
        attempt=0,
        state=ContainerState.RUNNING,
        image="busybox",
        image_ref="busybox",
        created_at=T0,
        log_path=str(path),
    )


async def test_follow_reads_across_a_rotation_until_the_container_exits(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    write(path, entry(0, b"before\n"))
    runtime = FakeRuntime(running_container(path))

    async def running() -> bool:
        return runtime.status.state is ContainerState.RUNNING

    seen: list[bytes] = []
    follower = read_logs(path, LogOptions(follow=True), running=running)

    async def read_until(text: bytes) -> None:
        while text not in b"".join(seen):
            seen.append(await anext(follower))

    async with asyncio.timeout(10):
        await read_until(b"before\n")
        write(path, entry(1, b"just before the rotation\n"))
        assert await rotate_if_needed(runtime, "c1", max_size=1, max_files=3)  # type: ignore[arg-type]
        write(path, entry(2, b"after\n"))
        await read_until(b"after\n")
        write(path, entry(3, b"last words\n"))
        runtime.status = replace(runtime.status, state=ContainerState.EXITED)
        seen.extend([chunk async for chunk in follower])
    assert b"".join(seen) == b"before\njust before the rotation\nafter\nlast words\n"
    assert runtime.reopened == 1


async def test_rotation_keeps_max_files_and_compresses_all_but_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    runtime = FakeRuntime(running_container(path))
    now = 1_700_000_000.0
    for round_ in range(4):
        write(path, entry(round_, b"round %d\n" % round_))
        rotated = await rotate_if_needed(
            runtime,  # type: ignore[arg-type]
            "c1",
            max_size=1,
            max_files=3,
            clock=lambda at=now + round_: at,
        )
        assert rotated
    kept = logs.rotated_files(path)
    # max_files 3 = the current file + two rotated ones, the older compressed.
    assert [p.name for p in kept] == ["0.log.20231114-221322.gz", "0.log.20231114-221323"]
    assert gzip.decompress(kept[0].read_bytes()).endswith(b"round 2\n")
    assert kept[1].read_bytes().endswith(b"round 3\n")
    assert path.read_bytes() == b""
    small = await rotate_if_needed(runtime, "c1", max_size=10_000, max_files=3)  # type: ignore[arg-type]
    assert not small
