"""emptyDir volumes: a folder that lives as long as the pod, on disk or in memory.

``medium: Memory`` volumes are tmpfs mounts (when the kubelet runs as root),
sized as upstream's calculateEmptyDirMemorySize: the node's allocatable
memory, lowered to the pod's memory limit when every container has one, lowered
to the volume's ``sizeLimit`` when that is smaller still. Without root, the
volume is a plain folder and the kubelet logs that its contents are on disk.
Secret, downwardAPI and projected volumes sit on the same memory-backed folders
(as upstream wraps them), so that secrets never reach the disk where possible.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynetes.api.quantity import parse_json_quantity
from pynetes.kubelet.volumes.tmpfs import can_mount, mount_tmpfs

log = logging.getLogger(__name__)

Object = dict[str, Any]


def _memory_limit(container: Object) -> int | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return parse_json_quantity(limit).value() if limit is not None else None


def pod_memory_limit(pod: Object) -> int:
    """The pod's memory limit as its cgroup gets it; 0 when a container has none."""
    spec = pod.get("spec") or {}
    containers = [_memory_limit(c) for c in spec.get("containers") or []]
    init_containers = [_memory_limit(c) for c in spec.get("initContainers") or []]
    if None in containers or None in init_containers:
        return 0
    return max([sum(containers), *init_containers])  # type: ignore[arg-type]


def memory_volume_size(pod: Object, size_limit: object, node_allocatable: Mapping[str, Any]) -> int:
    """upstream calculateEmptyDirMemorySize, in bytes (0: no size option)."""
    allocatable = node_allocatable.get("memory")
    size = parse_json_quantity(allocatable).value() if allocatable is not None else 0
    for candidate in (
        pod_memory_limit(pod),
        parse_json_quantity(size_limit).value() if size_limit is not None else 0,
    ):
        if candidate > 0 and (size == 0 or candidate <= size):
            size = candidate
    return size


def make_folder_now(folder: Path, mode: int) -> None:
    """Create ``folder`` (and parents) with ``mode`` exactly (no umask); nothing if it exists."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    folder.chmod(mode)


async def make_folder(folder: Path, mode: int) -> None:
    """:func:`make_folder_now` off the event loop."""
    await asyncio.to_thread(make_folder_now, folder, mode)


async def set_up_memory_folder(folder: Path, size_bytes: int) -> None:
    """A folder backed by memory: a tmpfs when this process may mount, else a plain one."""
    await make_folder(folder, 0o777)
    if can_mount():
        await mount_tmpfs(folder, size_bytes)
    else:
        log.warning("not root: memory-backed volume %s is a folder on disk", folder)


async def set_up_empty_dir(
    folder: Path, volume: Object, pod: Object, node_allocatable: Mapping[str, Any]
) -> None:
    """Make an emptyDir volume's folder (mode 0777, as upstream), once."""
    source = volume.get("emptyDir") or {}
    if source.get("medium") == "Memory":
        size = memory_volume_size(pod, source.get("sizeLimit"), node_allocatable)
        await set_up_memory_folder(folder, size)
    elif source.get("medium") in (None, ""):
        await make_folder(folder, 0o777)
    else:
        raise ValueError(f"unknown storage medium {source.get('medium')!r}")
