"""cgroup v1 folders of the process runtime's containers (memory and cpu controllers).

A container's cgroup is ``<root>/<controller>/<parent>/<container id>``, ``parent``
being the sandbox's cgroup_parent or ``pynetes/<pod uid>``. Where the hierarchy is
missing or not writable (not root, cgroup v2 only), containers run without limits and
that is logged once: the kubelet still works, only resource limits are not enforced.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from pynetes.kubelet.runtime.interface import LinuxResources

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "cpu")


class Cgroups:
    """Creates, configures and removes the per-container cgroups under ``root``."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.usable = root is not None and all(
            os.access(root / controller, os.W_OK) for controller in CONTROLLERS
        )
        if root is not None and not self.usable:
            log.warning("cgroups under %s are not writable: limits are not enforced", root)

    def folders(self, parent: str, container_id: str) -> list[Path]:
        """The container's folders, one per controller (none when cgroups are unusable)."""
        if not self.usable or self.root is None:
            return []
        return [self.root / controller / parent / container_id for controller in CONTROLLERS]

    def create(self, parent: str, container_id: str, resources: LinuxResources) -> list[Path]:
        """The container's cgroups, made and limited; the shim's child joins them."""
        folders = self.folders(parent, container_id)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        if not folders:
            return []
        memory, cpu = folders
        if resources.memory_limit_in_bytes:
            limit = str(resources.memory_limit_in_bytes)
            (memory / "memory.limit_in_bytes").write_text(limit)
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(limit)
        if resources.cpu_period:
            (cpu / "cpu.cfs_period_us").write_text(str(resources.cpu_period))
        if resources.cpu_quota:
            (cpu / "cpu.cfs_quota_us").write_text(str(resources.cpu_quota))
        if resources.cpu_shares:
            (cpu / "cpu.shares").write_text(str(resources.cpu_shares))
        return folders

    def remove(self, parent: str, container_id: str) -> None:
        """Kills what is left in the container's cgroups and removes them."""
        for folder in self.folders(parent, container_id):
            remove_folder(folder)

    def remove_parent(self, parent: str) -> None:
        """The pod's folder, once its containers' are gone."""
        if self.usable and self.root is not None:
            for controller in CONTROLLERS:
                remove_folder(self.root / controller / parent)


def remove_folder(folder: Path) -> None:
    if not folder.exists():
        return
    try:
        for line in (folder / "cgroup.procs").read_text().split():
            os.kill(int(line), signal.SIGKILL)
        folder.rmdir()
    except OSError as error:
        log.warning("could not remove cgroup %s: %s", folder, error)
