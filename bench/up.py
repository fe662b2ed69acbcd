"""``pynetes up`` benchmark: time to a ready cluster, its idle memory and idle CPU.

    python bench/up.py [--idle 60] [--settle 20]

Runs ``pynetes up`` on a fresh data folder (a temporary one; the API on a free port,
``--no-merge-kubeconfig``) and measures, in one run:

1. time to ready: from starting the command until it prints that the cluster is up,
   which it does once the node is Ready and every kube-system pod (the control plane's
   static pods, kube-proxy, DNS) is Running and ready, each DaemonSet and Deployment
   complete; checked afterwards with kubectl;
2. idle memory, ``--settle`` seconds later: the resident memory of every process of the
   cluster (the supervisor ``up`` became, the kubelet, the container shims and what
   they run), each physical page counted once however many of them map it (from
   /proc/PID/pagemap): what the cluster takes from the machine, whatever else runs.
   PSS and RSS are printed too: PSS splits a shared page among every process of the
   machine that maps it (so other Python processes make it smaller), RSS counts it in
   each process;
3. idle CPU over ``--idle`` seconds: user+system time of those processes, as a share
   of one core.

Next to them, the floors, measured the same way (each resident page once): a bare
Python interpreter per process, and per component an interpreter that imported only
the libraries every component needs (aiohttp, PyYAML, orjson, prometheus-client); and
the published k3s figures the issue names (about 30 s to ready; its server alone
0.8 to 1.6 GB).

Needs root (pods get network namespaces, kube-proxy runs in iptables mode).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.conftest import free_port

KUBECTL = "/usr/bin/kubectl"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            if stat:
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(entry))
    return tree


def cluster_processes(up_pid: int, data_dir: Path) -> set[int]:
    """``up`` and its descendants, and every process naming the data folder (the
    container shims, which detach from the kubelet) with theirs."""
    roots = {up_pid}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and str(data_dir) in _read(f"/proc/{entry}/cmdline").replace("\0", " "):
            roots.add(int(entry))
    tree = _children()
    found: set[int] = set()
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(tree.get(pid, []))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in KiB, from smaps_rollup."""
    rss = pss = 0
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        name, _, value = line.partition(":")
        if name == "Rss":
            rss = int(value.split()[0])
        elif name == "Pss":
            pss = int(value.split()[0])
    return rss, pss


def describe(pid: int) -> str:
    """What a process is: ``pynetes <component>``, the shim, or its command."""
    argv = _read(f"/proc/{pid}/cmdline").split("\0")
    if "pynetes" in argv:
        return "pynetes " + argv[argv.index("pynetes") + 1]
    if any(arg.endswith("shim.py") for arg in argv):
        return "container shim"
    return " ".join(argv)[:60]


def resident_pages(pid: int) -> set[int]:
    """The physical frames (PFNs) resident in ``pid``'s memory, from /proc/PID/pagemap
    (root only): the pages shared by several processes of the cluster count once."""
    frames: set[int] = set()
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                if start >= 0xFFFF_FFFF_F000:  # vsyscall
                    continue
                pagemap.seek(start // PAGE * 8)
                data = pagemap.read((end - start) // PAGE * 8)
                for (entry,) in struct.iter_unpack("<Q", data):
                    if entry >> 63:  # present
                        frames.add(entry & ((1 << 55) - 1))
    except OSError:
        pass
    return frames


def cpu_ticks(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        stat = _read(f"/proc/{pid}/stat")
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


#: What every pynetes component imports before any pynetes code: its floor.
COMMON_LIBRARIES = "import aiohttp, yaml, orjson, prometheus_client"


def floor_mib(count: int, preamble: str = "") -> float:
    """The resident memory (each page once) of ``count`` idle interpreters that ran
    ``preamble``."""
    sleepers = [
        subprocess.Popen([sys.executable, "-c", f"{preamble}\nimport time; time.sleep(60)"])
        for _ in range(count)
    ]
    time.sleep(3.0)
    try:
        frames = set().union(*(resident_pages(p.pid) for p in sleepers))
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
    return len(frames) * PAGE / 2**20


async def start_up(data_dir: Path) -> tuple[asyncio.subprocess.Process, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pynetes", "up",
        "--data-dir", str(data_dir),
        "--api-port", str(free_port()),
        "--no-merge-kubeconfig",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    output = []
    async with asyncio.timeout(180):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise SystemExit("pynetes up exited:\n" + "".join(output))
            output.append(line)
            if "the cluster is up" in line:
                return process, time.monotonic() - started


def kube_system_pods(kubeconfig: Path) -> str:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "pods", "-n", "kube-system"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pynetes-bench-up-") as folder:
        data_dir = Path(folder) / "cluster"
        process, to_ready = await start_up(data_dir)
        assert process.stdout is not None
        drain = asyncio.create_task(process.stdout.read())
        try:
            print(kube_system_pods(data_dir / "kubeconfig"))
            await asyncio.sleep(arguments.settle)
            pids = cluster_processes(process.pid, data_dir)
            memory = {pid: memory_kib(pid) for pid in pids}
            rss = sum(m[0] for m in memory.values())
            pss = sum(m[1] for m in memory.values())
            shims = sum(1 for pid in pids if describe(pid) == "container shim")
            frames = set().union(*(resident_pages(pid) for pid in pids))
            footprint = len(frames) * PAGE / 2**20
            for pid, (_, process_pss) in sorted(memory.items(), key=lambda m: -m[1][1]):
                print(f"  PSS {process_pss / 1024:5.1f} MB  {describe(pid)}")
            pids = cluster_processes(process.pid, data_dir)
            ticks_before, wall_before = cpu_ticks(pids), time.monotonic()
            await asyncio.sleep(arguments.idle)
            ticks_after, wall_after = cpu_ticks(pids), time.monotonic()
        finally:
            process.send_signal(signal.SIGINT)
            await process.wait()
            await drain
    cpu = (ticks_after - ticks_before) / CLK_TCK / (wall_after - wall_before)
    components = len(pids) - shims
    bare = floor_mib(len(pids))
    libraries = floor_mib(components, COMMON_LIBRARIES) + floor_mib(shims)
    print(
        f"time to ready (node Ready, all kube-system pods Running): {to_ready:.1f} s"
        "   [k3s: ~30 s; target < 10 s]"
    )
    print(
        f"idle memory, {len(pids)} processes: {footprint:.0f} MB resident, each page once"
        "   [target < 300 MB; k3s server alone 0.8-1.6 GB]"
    )
    print(
        f"  (PSS {pss / 1024:.0f} MB: shared pages split with every process of the machine;"
        f" RSS {rss / 1024:.0f} MB: shared pages counted in each process)"
    )
    print(
        f"  floor: {len(pids)} bare interpreters {bare:.0f} MB; {components} that imported only"
        f" aiohttp, yaml, orjson, prometheus_client and {shims} bare ones {libraries:.0f} MB"
    )
    print(f"idle CPU over {arguments.idle:.0f} s: {cpu * 100:.2f}% of one core   [target < 3%]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
