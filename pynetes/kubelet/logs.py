"""Container logs: reading CRI log files as ``kubectl logs`` shows them, and rotating them.

Reading (:func:`read_logs`) turns the CRI entries of a container's log file
(crilog.py) into what the kubelet's ``/containerLogs`` answers: the content
only, partial (``P``) entries joined with the entry that completes them, with
``timestamps`` each line prefixed by the RFC 3339 time of its first entry and
a space (as upstream's ``logWriter``). ``tail_lines`` counts joined lines from
the end of the current file (upstream reads only the current file too);
``since_ns`` skips entries older than it; ``limit_bytes`` cuts the output.

Following keeps reading as the file grows and ends once the container has
exited and everything it wrote is read. It polls (a stat per
:data:`POLL_INTERVAL`, no thread): cheap, and it works on every file system.

Rotation scheme (what :func:`rotate_if_needed` does and :func:`read_logs`
expects): the kubelet renames the current ``<path>`` to
``<path>.<YYYYMMDD-HHMMSS>`` (upstream's suffix), then asks the runtime to
reopen ``<path>``, so the runtime starts a new file and never writes to a
renamed one. Older rotated files are gzip-compressed (``.gz``), the newest is
kept plain, and at most ``max_files`` files (the current one included) are
kept, as upstream's ``containerLogMaxSize``/``containerLogMaxFiles``. A
follower that reaches the end of a file that has been renamed away reads
what is left of it and goes on with the new ``<path>``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pynetes.kubelet.runtime import crilog
from pynetes.kubelet.runtime.interface import RuntimeService

log = logging.getLogger(__name__)

#: How often a follower looks for more output (and at the container's state).
POLL_INTERVAL = 0.1
#: Upstream's defaults for containerLogMaxSize (10Mi) and containerLogMaxFiles.
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
_BLOCK = 64 * 1024
_ROTATED_SUFFIX = "%Y%m%d-%H%M%S"

Running = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class LogOptions:
    """What a ``/containerLogs`` request asks for (upstream's PodLogOptions, parsed)."""

    follow: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


class _Formatter:
    """Joins partial entries, prefixes timestamps, filters by time, and counts bytes."""

    def __init__(self, options: LogOptions) -> None:
        self._options = options
        self._line_start = True
        self._remaining = options.limit_bytes

    @property
    def exhausted(self) -> bool:
        return self._remaining is not None and self._remaining <= 0

    def format(self, raw_line: bytes) -> bytes:
        """The output of one raw file line (with its ``\\n``); b"" for a skipped one."""
        try:
            entry = crilog.parse(raw_line)
        except ValueError:
            log.debug("skipping a malformed log line %r", raw_line[:80])
            return b""
        since = self._options.since_ns
        if since is not None and entry.timestamp_ns < since:
            return b""
        out = entry.content
        if self._options.timestamps and self._line_start:
            out = entry.rfc3339().encode() + b" " + out
        self._line_start = entry.full
        if self._remaining is not None:
            out = out[: self._remaining]
            self._remaining -= len(out)
        return out


async def read_logs(
    path: str | Path, options: LogOptions, *, running: Running | None = None
) -> AsyncIterator[bytes]:
    """The container's log output, in chunks, as ``kubectl logs`` shows it.

    ``running`` answers whether the container still runs; with
    ``options.follow`` the output continues until it does not (and the file
    is drained). ``FileNotFoundError`` when there is no log file.
    """
    formatter = _Formatter(options)
    path = Path(path)
    file = await asyncio.to_thread(open, path, "rb")
    try:
        if options.tail_lines is not None:
            offset = await asyncio.to_thread(tail_offset, file, options.tail_lines)
            file.seek(offset)
        while True:
            async for chunk in _drain(file, formatter):
                yield chunk
            if formatter.exhausted or not options.follow:
                return
            replacement = _rotated_away(path, file)
            if replacement is not None:
                async for chunk in _drain(file, formatter):  # what was written before the rename
                    yield chunk
                file.close()
                file = replacement
                continue
            if running is not None and not await running():
                async for chunk in _drain(file, formatter):
                    yield chunk
                return
            await asyncio.sleep(POLL_INTERVAL)
    finally:
        file.close()


async def _drain(file: BinaryIO, formatter: _Formatter) -> AsyncIterator[bytes]:
    """Every complete line from the file's position on; a torn last line is left for later."""
    while not formatter.exhausted:
        block = await asyncio.to_thread(file.read, _BLOCK)
        if not block:
            return
        end = block.rfind(b"\n")
        if end < 0:
            if len(block) < _BLOCK:  # a line still being written: read it once it is whole
                file.seek(-len(block), os.SEEK_CUR)
                return
            end = len(block) - 1  # a line longer than a block: the runtime never writes one
        file.seek(end + 1 - len(block), os.SEEK_CUR)
        out = b"".join(formatter.format(line) for line in block[: end + 1].splitlines(True))
        if out:
            yield out


def _rotated_away(path: Path, file: BinaryIO) -> BinaryIO | None:
    """The new file at ``path`` once the open ``file`` has been renamed away, else None."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return None  # between the rename and the runtime's reopen
    if current.st_ino == os.fstat(file.fileno()).st_ino:
        return None
    return open(path, "rb")  # the caller closes it


def tail_offset(file: BinaryIO, lines: int) -> int:
    """The offset where the last ``lines`` full (joined) lines of a CRI log file start.

    Reads backwards in growing blocks, so a short tail of a big file reads little.
    """
    end = file.seek(0, os.SEEK_END)
    if lines <= 0:
        return end
    position, step = end, _BLOCK
    while position > 0:
        position = max(0, position - step)
        step *= 2
        file.seek(position)
        complete = file.read(end - position).split(b"\n")[:-1]
        offset = position + sum(len(segment) + 1 for segment in complete)
        found = 0
        # The first segment may start mid-line unless it starts the file.
        for segment in reversed(complete if position == 0 else complete[1:]):
            if _is_full(segment):
                found += 1
                if found > lines:
                    return offset
            offset -= len(segment) + 1
    return 0


def _is_full(line: bytes) -> bool:
    fields = line.split(b" ", 3)
    return len(fields) >= 3 and fields[2] == crilog.FULL


# -- rotation -----------------------------------------------------------------


async def rotate_if_needed(
    runtime: RuntimeService,
    container_id: str,
    max_size: int = DEFAULT_MAX_SIZE,
    max_files: int = DEFAULT_MAX_FILES,
    *,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Rotate the container's log when it is bigger than ``max_size``; True if it did.

    Called by the kubelet periodically for each running container. Keeps at
    most ``max_files`` files (the current one included), compresses all but
    the newest rotated file, and asks the runtime to reopen the log; when the
    reopen fails the rename is undone, so the runtime's file stays the current one.
    """
    status = await runtime.container_status(container_id)
    if not status.log_path or max_files < 2:
        return False
    path = Path(status.log_path)
    rotated = await asyncio.to_thread(_rotate, path, max_size, max_files, clock())
    if rotated is None:
        return False
    try:
        await runtime.reopen_container_log(container_id)
    except Exception:
        await asyncio.to_thread(os.rename, rotated, path)
        raise
    return True


def _rotate(path: Path, max_size: int, max_files: int, now: float) -> Path | None:
    """Rename ``path`` away when it is too big (making room first); the new name or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size < max_size:
        return None
    rotated = path.with_name(f"{path.name}.{time.strftime(_ROTATED_SUFFIX, time.gmtime(now))}")
    if rotated.exists() or rotated.with_name(rotated.name + ".gz").exists():
        return None  # rotated less than a second ago
    _prepare_rotation(path, max_files)
    os.rename(path, rotated)
    return rotated


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of a log, oldest first (the suffix sorts by time)."""
    prefix = path.name + "."
    found = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and _is_rotated(p, path)]
    return sorted(found, key=lambda p: p.name)


def _is_rotated(candidate: Path, path: Path) -> bool:
    suffix = candidate.name[len(path.name) + 1 :].removesuffix(".gz")
    try:
        time.strptime(suffix, _ROTATED_SUFFIX)
    except ValueError:
        return False
    return True


def _prepare_rotation(path: Path, max_files: int) -> None:
    """Remove the oldest rotated files (room for one more) and compress all the others."""
    existing = rotated_files(path)
    excess = len(existing) - (max_files - 2)
    for old in existing[: max(excess, 0)]:
        old.unlink(missing_ok=True)
    for plain in existing[max(excess, 0) :]:
        if plain.suffix != ".gz":
            _compress(plain)


def _compress(path: Path) -> None:
    """``path`` -> ``path.gz``, written beside it then renamed, so it is never half there."""
    target = path.with_name(path.name + ".gz")
    temporary = path.with_name(path.name + ".gz.tmp")
    with open(path, "rb") as source, gzip.open(temporary, "wb") as sink:
        shutil.copyfileobj(source, sink)
    os.replace(temporary, target)
    path.unlink()
