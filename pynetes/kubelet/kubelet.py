"""The kubelet: pods from the API server and the static pod folder, run through a runtime.

``Kubelet`` wires the parts together: the pod sources (an informer on the pods
bound to this node; the static pod folder), one worker per pod running
:class:`~pynetes.kubelet.syncpod.PodSyncer`, the runtime's container events
(a container exited: its pod is synced at once, as the evented PLEG), probe
results, a periodic resync of every pod (``syncFrequency``), the status manager
and the mirror pods of static pods.

After a restart it adopts the sandboxes its runtime still has: they are synced
like any pod once the sources have been read, so a running container is kept
(never started twice) and a pod that is gone is cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.kubelet.mirror import is_mirror_pod
from pynetes.kubelet.podstatus import KUBELET_CONDITIONS
from pynetes.kubelet.podworkers import PodWorkers
from pynetes.kubelet.runtime.interface import ContainerEvent
from pynetes.kubelet.statusmanager import PODS, StatusManager, is_static
from pynetes.kubelet.syncpod import PodRecord, PodSyncer, SyncDependencies

log = logging.getLogger(__name__)
Object = dict[str, Any]


@dataclass(frozen=True)
class KubeletSettings:
    """What the pod machinery needs of the KubeletConfiguration (config.py)."""

    node_name: str
    sync_frequency: float = 60.0
    max_pods: int = 110
    #: How often unsent statuses are retried and logs checked for rotation.
    housekeeping_interval: float = 2.0


class Kubelet:
    """Runs the pods of one node. ``start`` returns once everything runs; ``stop`` ends
    the kubelet's own work and leaves the containers running (as upstream does)."""

    def __init__(
        self,
        client: ApiClient,
        settings: KubeletSettings,
        deps: SyncDependencies,
        *,
        housekeeping: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.deps = deps
        self.api_pods: dict[str, Object] = {}
        self.static_pods: dict[str, Object] = {}
        self.mirror_pods: dict[tuple[str, str], Object] = {}
        self.syncer = PodSyncer(deps, self.desired, max_pods=settings.max_pods)
        self.workers = PodWorkers(self._timed_sync)
        self.statuses = StatusManager(client, self._mirror_uid)
        self.pods_informer = Informer(
            client, PODS, field_selector=f"spec.nodeName={settings.node_name}"
        )
        self.pods_informer.add_event_handler(
            EventHandler(
                on_add=self._pod_seen, on_update=self._pod_updated, on_delete=self._pod_gone
            )
        )
        self._housekeeping = housekeeping
        #: Called when a mirror pod of this node changes (the mirror pods' sync).
        self.on_mirror_change: Callable[[], None] | None = None
        self.served_pods = ServedPods(self)
        self._static_read = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._adopted: list[str] = []

    # -- lifecycle -------------------------------------------------------------

    async def start(self, *, static_pods: bool = False) -> None:
        """Adopt what the runtime runs, then follow the sources. With ``static_pods`` the
        caller feeds :meth:`set_static_pods`; until its first call no adopted pod is
        judged gone."""
        if not static_pods:
            self._static_read.set()
        for sandbox in await self.deps.runtime.list_pod_sandboxes():
            self.syncer.adopt(sandbox.id, sandbox.uid, sandbox.ip)
            self._adopted.append(sandbox.uid)
        self.deps.runtime.subscribe(self._container_event)
        self.pods_informer.start()
        self._tasks = [
            asyncio.create_task(self._adopt_when_read(), name="kubelet-adopt"),
            asyncio.create_task(self._resync_periodically(), name="kubelet-resync"),
            asyncio.create_task(self._housekeep(), name="kubelet-housekeeping"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.workers.stop()
        await self.pods_informer.stop()

    async def wait_synced(self) -> None:
        """The API's pods have been listed (and the static folder read, if any)."""
        await self.pods_informer.wait_for_sync()
        await self._static_read.wait()

    async def _timed_sync(self, uid: str) -> float | None:
        with self.deps.metrics.pod_worker_duration.labels("sync").time():
            return await self.syncer.sync(uid)

    # -- sources -----------------------------------------------------------------

    def desired(self, uid: str) -> Object | None:
        return self.api_pods.get(uid) or self.static_pods.get(uid)

    def set_static_pods(self, pods: list[Object]) -> None:
        """The complete set of static pods (from the manifest folder) changed."""
        fresh = {pod["metadata"]["uid"]: pod for pod in pods}
        changed = {uid for uid in fresh.keys() | self.static_pods.keys()}
        changed = {uid for uid in changed if fresh.get(uid) != self.static_pods.get(uid)}
        self.static_pods = fresh
        self._static_read.set()
        for uid in changed:
            self.workers.update(uid)

    def static_pod(self, namespace: str, name: str) -> Object | None:
        for pod in self.static_pods.values():
            meta = pod["metadata"]
            if (meta.get("namespace", "default"), meta["name"]) == (namespace, name):
                return pod
        return None

    def _pod_seen(self, pod: Object) -> None:
        meta = pod["metadata"]
        if is_mirror_pod(pod):
            self.mirror_pods[(meta.get("namespace", "default"), meta["name"])] = pod
            if self.on_mirror_change is not None:
                self.on_mirror_change()
            static = self.static_pod(meta.get("namespace", "default"), meta["name"])
            if static is not None:
                self.workers.update(static["metadata"]["uid"])
            return
        self.api_pods[meta["uid"]] = pod
        self.workers.update(meta["uid"])

    def _pod_updated(self, old: Object, new: Object) -> None:
        if is_mirror_pod(new) or _needs_sync(old, new):
            self._pod_seen(new)
        else:
            self.api_pods[new["metadata"]["uid"]] = new

    def _pod_gone(self, pod: Object) -> None:
        meta = pod["metadata"]
        if is_mirror_pod(pod):
            self.mirror_pods.pop((meta.get("namespace", "default"), meta["name"]), None)
            if self.on_mirror_change is not None:
                self.on_mirror_change()
            return
        self.api_pods.pop(meta["uid"], None)
        self.workers.update(meta["uid"])

    def _mirror_uid(self, pod: Object) -> str | None:
        meta = pod["metadata"]
        mirror = self.mirror_pods.get((meta.get("namespace", "default"), meta["name"]))
        return None if mirror is None else mirror["metadata"]["uid"]

    async def _adopt_when_read(self) -> None:
        """Once the sources are read, sync every adopted pod: kept if still wanted,
        cleaned up if not."""
        await self.wait_synced()
        for uid in self._adopted:
            self.workers.update(uid)
        self._adopted.clear()

    def _container_event(self, event: ContainerEvent) -> None:
        if event.pod_uid:
            self.workers.update(event.pod_uid)

    def probe_changed(self, uid: str) -> None:
        self.workers.update(uid)

    def container_unhealthy(
        self, uid: str, container: str, container_id: str, message: str
    ) -> None:
        """A liveness (or startup) probe gave up on a container: restart it."""
        self.syncer.mark_unhealthy(uid, container, container_id, message)
        self.workers.update(uid)

    # -- periodic work -----------------------------------------------------------

    async def _resync_periodically(self) -> None:
        """Every syncFrequency each pod is synced again (ConfigMap contents, missed events)."""
        await self.wait_synced()
        while True:
            await asyncio.sleep(self.settings.sync_frequency)
            for uid in self.known_pod_uids():
                self.workers.update(uid)

    def known_pod_uids(self) -> set[str]:
        """Every pod the kubelet runs or is asked to run."""
        return {*self.api_pods, *self.static_pods, *self.syncer.records}

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval)
            try:
                await self.statuses.flush()
                if self.pods_informer.has_synced and self._static_read.is_set():
                    await self._remove_orphaned_pod_dirs()
                if self._housekeeping is not None:
                    await self._housekeeping()
            except (errors.ApiError, errors.TransportError, OSError) as error:
                log.warning("housekeeping: %s", error)

    async def _remove_orphaned_pod_dirs(self) -> None:
        """The folders of pods the kubelet no longer has (deleted while it was down)."""
        for uid in await self.deps.volumes.cleanup_orphans(self.known_pod_uids()):
            log.info("removed the volumes and files of pod %s, which no source has", uid)


class ServedPods:
    """The kubelet's pods as its HTTPS API serves them (``/pods``, logs, exec...)."""

    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet

    def pods(self) -> list[Object]:
        """The pods this kubelet runs, each with the status it last computed."""
        pods = []
        for uid, record in self._kubelet.syncer.records.items():
            pod = self._kubelet.desired(uid) or record.pod
            if pod is not None:
                pods.append({**pod, "status": record.last_status or pod.get("status") or {}})
        return pods

    def pod(self, namespace: str, name: str) -> Object | None:
        record = self._record(namespace, name)
        if record is None or record.pod is None:
            return None
        return {**record.pod, "status": record.last_status or record.pod.get("status") or {}}

    def container_id(
        self, namespace: str, pod: str, container: str, *, previous: bool = False
    ) -> str | None:
        record = self._record(namespace, pod)
        attempts = [] if record is None else record.containers.get(container) or []
        index = 1 if previous else 0
        return attempts[index].id if len(attempts) > index else None

    def sandbox_id(self, namespace: str, pod: str) -> str | None:
        record = self._record(namespace, pod)
        return None if record is None else record.sandbox_id

    def _record(self, namespace: str, name: str) -> PodRecord | None:
        for record in self._kubelet.syncer.records.values():
            meta = (record.pod or {}).get("metadata") or {}
            if (meta.get("namespace", "default"), meta.get("name")) == (namespace, name):
                return record
        return None


def _needs_sync(old: Object, new: Object) -> bool:
    """Whether an update can change what the kubelet does: anything but the status it
    writes itself (its own status writes come back through the watch; upstream's pod
    config ignores them too). Conditions others own (readiness gates) do count."""
    return _without_own_status(old) != _without_own_status(new)


def _without_own_status(pod: Object) -> tuple[Object, Object, list[Object]]:
    meta = {
        k: v for k, v in pod["metadata"].items() if k not in ("resourceVersion", "managedFields")
    }
    foreign = [
        c
        for c in (pod.get("status") or {}).get("conditions") or ()
        if c.get("type") not in KUBELET_CONDITIONS
    ]
    return meta, pod.get("spec") or {}, foreign


async def delete_from_api(client: ApiClient, pod: Object) -> None:
    """Complete a graceful deletion: the kubelet has stopped the pod, the API may forget it
    (grace 0, only this pod: its uid is a precondition). Static pods have no API object."""
    if is_static(pod):
        return
    meta = pod["metadata"]
    with contextlib.suppress(errors.NotFound, errors.Conflict):
        await client.delete(
            PODS,
            meta["name"],
            namespace=meta.get("namespace"),
            grace_period_seconds=0,
            preconditions={"uid": meta["uid"]},
        )
