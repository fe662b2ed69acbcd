"""tmpfs mounts of memory-backed volumes, and finding the mounts under a folder.

The kubelet mounts with the ``mount``/``umount`` programs, as upstream's
mount-utils does, so that what it does shows in a shell history form in its
errors. Only root can mount; callers check :func:`can_mount` first.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


class MountError(OSError):
    """A mount or umount command failed; the message carries its output."""


def can_mount() -> bool:
    """True when this process may mount file systems (it runs as root)."""
    return os.geteuid() == 0


NOT_MOUNTED = "not mounted"
"""What ``umount`` says of a point another unmount got to first (upstream's errNotMounted)."""


async def _run(*command: str, harmless: str | None = None) -> None:
    """Run a mount command; fail with its output unless it succeeded or said ``harmless``.

    A cancelled caller waits for the command to end before the cancellation goes on:
    a mount finishing unseen after its pod's teardown had looked would stay forever.
    """
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    communicating = asyncio.ensure_future(process.communicate())
    try:
        output, _ = await asyncio.shield(communicating)
    except asyncio.CancelledError:
        await communicating
        raise
    if process.returncode != 0 and not (harmless and harmless in output.decode(errors="replace")):
        raise MountError(
            f"mount failed: exit status {process.returncode}\n"
            f"Mounting command: {command[0]}\nMounting arguments: {' '.join(command[1:])}\n"
            f"Output: {output.decode(errors='replace').strip()}"
        )


async def mount_tmpfs(folder: Path, size_bytes: int) -> None:
    """Mount a tmpfs of at most ``size_bytes`` (0: the kernel's default) on ``folder``.

    Nothing happens when ``folder`` is a mount point already.
    """
    if await asyncio.to_thread(os.path.ismount, folder):
        return
    options = ["-o", f"size={size_bytes}"] if size_bytes > 0 else []
    await _run("mount", "-t", "tmpfs", *options, "tmpfs", str(folder))


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space) decoded."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mount_points_under(folder: Path) -> list[Path]:
    """The mount points at or below ``folder``, deepest first (the order to unmount)."""
    root = os.path.realpath(folder)
    points = set()
    for line in MOUNTINFO.read_text().splitlines():
        point = _unescape(line.split(" ", 5)[4])
        if point == root or point.startswith(root + "/"):
            points.add(point)
    return [Path(point) for point in sorted(points, key=len, reverse=True)]


async def unmount_all_under(folder: Path) -> None:
    """Unmount everything mounted at or below ``folder`` (stacked mounts too).

    A point that is no longer mounted when its turn comes is fine, as upstream's
    safe not-mounted behaviour: another teardown of the same pod may get there first.
    """
    while points := await asyncio.to_thread(mount_points_under, folder):
        for point in points:
            await _run("umount", str(point), harmless=NOT_MOUNTED)
