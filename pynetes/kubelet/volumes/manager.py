"""The kubelet's volume manager: a pod's volumes set up on disk, and its containers' mounts.

Layout, as upstream's: ``<pods_dir>/<pod uid>/volumes/kubernetes.io~<plugin>/<volume>/``
for emptyDir (``empty-dir``), configMap (``configmap``), secret, downwardAPI
(``downward-api``) and projected volumes; a hostPath volume is the node's path
itself. :meth:`VolumeManager.mount_pod` is called on every sync of a pod: it
creates what is missing and rewrites the configMap, secret, downwardAPI and
projected files whose content changed (through the AtomicWriter, so a
running container sees the new files whole), and nothing else, so a repeat
is cheap. That is how updated ConfigMaps and Secrets, and changed labels and
annotations, reach running pods at the next sync, as upstream.

A volume that cannot be set up fails the call with :class:`VolumeSetupError`,
whose ``messages`` are upstream's ``MountVolume.SetUp failed for volume "cfg" :
configmap "missing" not found``, one per failing volume (the kubelet records
each as a ``FailedMount`` Warning). The other volumes are still set up.

Not supported: fsGroup ownership, volume types other
than the six above (they fail with upstream's "unsupported" style message).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynetes.api.pods import pod_containers
from pynetes.kubelet.env import ContainerConfigError, expand_sub_path_expr
from pynetes.kubelet.lookup import ObjectLookup, ObjectLookupError
from pynetes.kubelet.runtime.interface import Mount
from pynetes.kubelet.volumes.atomic_writer import PayloadError, write_payload
from pynetes.kubelet.volumes.emptydir import (
    make_folder,
    make_folder_now,
    memory_volume_size,
    set_up_empty_dir,
    set_up_memory_folder,
)
from pynetes.kubelet.volumes.hostpath import HostPathTypeError, check_host_path
from pynetes.kubelet.volumes.payloads import (
    Payload,
    PayloadSourceError,
    config_map_payload,
    downward_api_payload,
    projected_payload,
    secret_payload,
)
from pynetes.kubelet.volumes.tmpfs import MountError, unmount_all_under

log = logging.getLogger(__name__)

Object = dict[str, Any]

#: The plugin folder names, by the volume source's field.
PLUGIN_FOLDERS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
#: Volume sources whose files are the kubelet's, mounted read-only whatever the pod says.
READ_ONLY_SOURCES = frozenset({"configMap", "secret", "downwardAPI", "projected"})
#: Sources kept in memory (upstream wraps them in a Memory emptyDir).
MEMORY_BACKED_SOURCES = frozenset({"secret", "downwardAPI", "projected"})


class VolumeSetupError(Exception):
    """Some of a pod's volumes could not be set up; one message per volume."""

    reason = "FailedMount"

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class _PodVolumes:
    """What the manager knows of one pod: its lock, and each volume's host path."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paths: dict[str, Path] = field(default_factory=dict)


def _source_kind(volume: Object) -> str | None:
    for kind in (*PLUGIN_FOLDERS, "hostPath"):
        if kind in volume:
            return kind
    return None


class VolumeManager:
    """Sets up and tears down the volumes of the pods of one node.

    ``node_allocatable`` (resource name -> quantity) stands in for unset
    container limits in downward API files and sizes memory volumes.
    Calls for one pod are serialized; different pods proceed in parallel.
    """

    def __init__(
        self,
        pods_dir: Path,
        lookup: ObjectLookup,
        *,
        node_allocatable: Mapping[str, Any] | None = None,
    ) -> None:
        self.pods_dir = pods_dir
        self._lookup = lookup
        self._allocatable = dict(node_allocatable or {})
        self._pods: dict[str, _PodVolumes] = {}

    def volume_dir(self, pod_uid: str, kind: str, name: str) -> Path:
        """Where a volume of that plugin kind lives on disk."""
        return self.pods_dir / pod_uid / "volumes" / PLUGIN_FOLDERS[kind] / name

    async def mount_pod(
        self,
        pod: Object,
        *,
        environments: Mapping[str, Iterable[tuple[str, str]]] | None = None,
    ) -> dict[str, list[Mount]]:
        """Set up (or refresh) the pod's volumes; each container's mounts, init ones too.

        ``environments`` (container name -> its environment, from
        :func:`~pynetes.kubelet.env.container_environment`) expands the
        ``subPathExpr`` of mounts; a container missing from it expands with
        an empty environment. Raises :class:`VolumeSetupError` when a volume
        fails, and :class:`~pynetes.kubelet.env.ContainerConfigError`
        (upstream's makeMounts messages) for a mount that names no volume or
        has a bad ``subPath``.
        """
        uid = pod["metadata"]["uid"]
        state = self._pods.setdefault(uid, _PodVolumes())
        async with state.lock:
            messages = []
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                try:
                    state.paths[volume["name"]] = await self._set_up(pod, volume)
                except (
                    ObjectLookupError,
                    PayloadSourceError,
                    PayloadError,
                    HostPathTypeError,
                    MountError,
                    OSError,
                    ValueError,
                ) as error:
                    messages.append(
                        f'MountVolume.SetUp failed for volume "{volume["name"]}" : {error}'
                    )
            if messages:
                raise VolumeSetupError(messages)
            return await self._container_mounts(pod, state.paths, environments or {})

    async def _set_up(self, pod: Object, volume: Object) -> Path:
        kind = _source_kind(volume)
        source = volume.get(kind) if kind else None
        if kind is None or source is None:
            raise ValueError("unsupported volume source (supported: " + _supported() + ")")
        if kind == "hostPath":
            return await asyncio.to_thread(check_host_path, source)
        folder = self.volume_dir(pod["metadata"]["uid"], kind, volume["name"])
        if kind == "emptyDir":
            await set_up_empty_dir(folder, volume, pod, self._allocatable)
            return folder
        payload = await self._payload(pod, kind, source)
        if kind in MEMORY_BACKED_SOURCES:
            size = memory_volume_size(pod, None, self._allocatable)
            await set_up_memory_folder(folder, size)
        else:
            await make_folder(folder, 0o755)
        if await asyncio.to_thread(write_payload, folder, payload):
            log.info("pod %s: wrote volume %s", pod["metadata"].get("name"), volume["name"])
        return folder

    async def _payload(self, pod: Object, kind: str, source: Object) -> Payload:
        namespace = pod["metadata"].get("namespace") or "default"
        builders: dict[str, Callable[[], Awaitable[Payload]]] = {
            "configMap": lambda: config_map_payload(source, namespace, self._lookup),
            "secret": lambda: secret_payload(source, namespace, self._lookup),
            "projected": lambda: projected_payload(source, pod, self._lookup, self._allocatable),
        }
        if kind == "downwardAPI":
            return downward_api_payload(source, pod, self._allocatable)
        return await builders[kind]()

    async def _container_mounts(
        self,
        pod: Object,
        paths: Mapping[str, Path],
        environments: Mapping[str, Iterable[tuple[str, str]]],
    ) -> dict[str, list[Mount]]:
        spec = pod.get("spec") or {}
        read_only_volumes = {
            volume["name"]
            for volume in spec.get("volumes") or []
            if _source_kind(volume) in READ_ONLY_SOURCES
        }
        result = {}
        for container in pod_containers(spec):
            mounts = []
            for volume_mount in container.get("volumeMounts") or []:
                name = volume_mount.get("name", "")
                if name not in paths:
                    raise ContainerConfigError(
                        f'cannot find volume "{name}" to mount into container "{container["name"]}"'
                    )
                sub_path = volume_mount.get("subPath") or ""
                if expression := volume_mount.get("subPathExpr"):
                    env = environments.get(container["name"], ())
                    sub_path = expand_sub_path_expr(expression, env)
                host_path = await _sub_path(paths[name], sub_path, volume_mount, container["name"])
                read_only = bool(volume_mount.get("readOnly")) or name in read_only_volumes
                mounts.append(Mount(volume_mount["mountPath"], str(host_path), read_only))
            result[container["name"]] = mounts
        return result

    async def unmount_pod(self, pod_uid: str) -> None:
        """Tear down the pod's folder: unmount its volumes, then remove it with what else
        the kubelet keeps there (its resolv.conf and etc-hosts). Safe to repeat."""
        state = self._pods.setdefault(pod_uid, _PodVolumes())
        async with state.lock:
            pod_dir = self.pods_dir / pod_uid
            if pod_dir.exists():
                await unmount_all_under(pod_dir)
                await asyncio.to_thread(shutil.rmtree, pod_dir)
        self._pods.pop(pod_uid, None)

    def pod_dirs(self) -> set[str]:
        """The uids of the pods that have a folder on disk."""
        if not self.pods_dir.is_dir():
            return set()
        return {entry.name for entry in self.pods_dir.iterdir() if entry.is_dir()}

    async def cleanup_orphans(self, active_pod_uids: Collection[str]) -> list[str]:
        """Tear down the folders of pods not in ``active_pod_uids``; their uids.

        The kubelet runs it in its housekeeping once it knows its pods, as
        upstream's cleanupOrphanedPodDirs, so a pod deleted while the kubelet was
        down does not leave its mounts (secrets in memory) behind. The caller
        computes ``active_pod_uids`` with no await since: a pod it does not
        know yet has no folder yet.
        """
        orphans = sorted(self.pod_dirs() - set(active_pod_uids))
        for uid in orphans:
            await self.unmount_pod(uid)
        return orphans


def _supported() -> str:
    return ", ".join([*PLUGIN_FOLDERS, "hostPath"])


async def _sub_path(volume_path: Path, sub_path: str, volume_mount: Object, container: str) -> Path:
    """The host path of a mount with a ``subPath``, created as a folder if missing."""
    if not sub_path:
        return volume_path
    if sub_path.startswith("/"):
        raise ContainerConfigError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise ContainerConfigError(
            f"unable to provision SubPath `{sub_path}`: must not contain '..'"
        )
    try:
        return await asyncio.to_thread(_make_sub_path, volume_path, sub_path)
    except OSError as error:
        log.error("subPath %s of container %s: %s", sub_path, container, error)
        raise ContainerConfigError(
            f'failed to create subPath directory for volumeMount "{volume_mount["name"]}" '
            f'of container "{container}"'
        ) from error


def _make_sub_path(volume_path: Path, sub_path: str) -> Path:
    """Create a missing subPath as a folder with the volume's mode, as upstream does."""
    host_path = volume_path / sub_path
    if not os.path.lexists(host_path):
        make_folder_now(host_path, volume_path.stat().st_mode & 0o7777)
    return host_path
