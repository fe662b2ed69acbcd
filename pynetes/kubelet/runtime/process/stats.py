"""Resource usage of the process runtime's containers, from /proc and their memory
cgroups (what ``kubectl top pod`` shows, via the kubelet's ``/metrics/resource``).

A container's processes are those in its memory cgroup, or without cgroups its
process group (the shim starts each container as a group leader). Its CPU is
what they used, their reaped children's included (utime, stime, cutime, cstime
of ``/proc/<pid>/stat``); its memory working set is, as cAdvisor computes it,
the cgroup's usage less its inactive file pages, or without cgroups the
processes' resident memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


def cgroup_pids(folder: Path) -> list[int]:
    """The processes in a cgroup folder (none when it is gone)."""
    try:
        return [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def process_groups(proc: Path = PROC) -> dict[int, list[int]]:
    """Every process group's processes, by the group's id (one walk of /proc)."""
    groups: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry)
            if fields is not None:
                groups.setdefault(int(fields[2]), []).append(int(entry.name))
    return groups


def cpu_nanoseconds(pids: Iterable[int], proc: Path = PROC) -> int:
    """CPU time the processes and their reaped children used, in nanoseconds."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(proc / str(pid))
        if fields is not None:
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks * _TICK_NS


def resident_bytes(pids: Iterable[int], proc: Path = PROC) -> int:
    total = 0
    for pid in pids:
        fields = _stat_fields(proc / str(pid))
        if fields is not None:
            total += int(fields[21]) * _PAGE  # rss, in pages
    return total


def cgroup_working_set(folder: Path) -> int | None:
    """``memory.usage_in_bytes`` less inactive file pages; None without the folder."""
    try:
        usage = int((folder / "memory.usage_in_bytes").read_text())
        stat = _key_values((folder / "memory.stat").read_text())
    except (OSError, ValueError):
        return None
    return max(usage - stat.get("total_inactive_file", 0), 0)


def _stat_fields(entry: Path) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces): field 3
    (state) is index 0. None when the process is gone."""
    with contextlib.suppress(OSError):
        text = (entry / "stat").read_text()
        return text[text.rindex(")") + 2 :].split()
    return None


def _key_values(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values
