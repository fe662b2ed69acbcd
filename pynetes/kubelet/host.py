"""What the kubelet reads from the machine it runs on: sizes, usage and identity.

Upstream reads these through cAdvisor; here they come from ``/proc``, ``statvfs``
and ``/etc``. Simplifications, said once: memory available is ``MemAvailable``
of ``/proc/meminfo`` (upstream: capacity less the root cgroup's working set),
and the PIDs in use are the kernel's thread count from ``/proc/loadavg``.
"""

from __future__ import annotations

import os
import platform
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path

#: Python's machine names -> Go's GOARCH, as Kubernetes labels them.
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@dataclass(frozen=True)
class HostIdentity:
    """What does not change while the kubelet runs: nodeInfo's fields."""

    operating_system: str
    architecture: str
    kernel_version: str
    os_image: str
    machine_id: str
    system_uuid: str
    boot_id: str


@dataclass(frozen=True)
class HostUsage:
    """Sizes and what is left of them now, in cores, bytes, inodes and PIDs."""

    cpus: int
    memory_bytes: int
    memory_available_bytes: int
    fs_bytes: int
    fs_available_bytes: int
    fs_inodes: int
    fs_inodes_free: int
    pid_max: int
    pids_in_use: int


def go_arch(machine: str) -> str:
    """Go's GOARCH name for ``platform.machine()`` (``x86_64`` -> ``amd64``)."""
    return _GOARCH.get(machine.lower(), machine.lower())


def read_identity() -> HostIdentity:
    """The machine's identity as nodeInfo reports it."""
    machine_id = _first_line(Path("/etc/machine-id")) or _first_line(
        Path("/var/lib/dbus/machine-id")
    )
    system_uuid = _first_line(Path("/sys/class/dmi/id/product_uuid"))
    if not system_uuid and machine_id:
        # no DMI (containers, some VMs): a stable UUID of the machine id instead
        system_uuid = str(uuid.UUID(hex=machine_id[:32].ljust(32, "0")))
    return HostIdentity(
        operating_system=platform.system().lower(),
        architecture=go_arch(platform.machine()),
        kernel_version=platform.release(),
        os_image=_os_image(Path("/etc/os-release")),
        machine_id=machine_id,
        system_uuid=system_uuid,
        boot_id=_first_line(Path("/proc/sys/kernel/random/boot_id")),
    )


def read_usage(root_dir: str | Path = "/") -> HostUsage:
    """Sizes and free amounts now; the filesystem is the one holding ``root_dir``."""
    meminfo = _meminfo(Path("/proc/meminfo"))
    fs = os.statvfs(root_dir)
    return HostUsage(
        cpus=os.cpu_count() or 1,
        memory_bytes=meminfo.get("MemTotal", 0),
        memory_available_bytes=meminfo.get("MemAvailable", meminfo.get("MemFree", 0)),
        fs_bytes=fs.f_blocks * fs.f_frsize,
        fs_available_bytes=fs.f_bavail * fs.f_frsize,
        fs_inodes=fs.f_files,
        fs_inodes_free=fs.f_favail,
        pid_max=int(_first_line(Path("/proc/sys/kernel/pid_max")) or 32768),
        pids_in_use=_threads(Path("/proc/loadavg")),
    )


def cpu_nanoseconds(proc: Path = Path("/proc")) -> int:
    """CPU time all CPUs spent not idle (nor waiting for I/O) since boot."""
    with open(proc / "stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) * (10**9 // os.sysconf("SC_CLK_TCK"))


def memory_working_set_bytes(proc: Path = Path("/proc")) -> int:
    """Memory in use less inactive file pages: the root cgroup's working set, as
    cAdvisor computes it (``kubectl top node``)."""
    meminfo = _meminfo(proc / "meminfo")
    used = meminfo["MemTotal"] - meminfo["MemFree"] - meminfo.get("Inactive(file)", 0)
    return max(used, 0)


def _first_line(path: Path) -> str:
    try:
        return path.read_text().strip().splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


def _os_image(path: Path) -> str:
    """PRETTY_NAME of os-release, as upstream's osImage."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return "Unknown"
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "PRETTY_NAME":
            parsed = shlex.split(value)
            return parsed[0] if parsed else ""
    return "Unknown"


def _meminfo(path: Path) -> dict[str, int]:
    """/proc/meminfo in bytes (its ``kB`` are KiB)."""
    result = {}
    for line in path.read_text().splitlines():
        key, _sep, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            result[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return result


def _threads(path: Path) -> int:
    """The kernel's current number of tasks (``/proc/loadavg``'s ``running/total``)."""
    try:
        return int(path.read_text().split()[3].split("/")[1])
    except (OSError, IndexError, ValueError):
        return 0
