"""Bringing one pod's containers to what its spec asks: the heart of the kubelet.

``PodSyncer.sync(uid)`` is level-triggered, as upstream's ``SyncPod`` /
``computePodActions``: it compares the pod's spec with the containers its runtime
has and acts: create the sandbox, set up volumes, run init containers one at a
time in order, then start every app container, restart exited ones as the
``restartPolicy`` says with CrashLoopBackOff, replace those whose spec changed or
whose liveness probe failed, and stop everything gracefully (preStop, SIGTERM,
grace period, SIGKILL) when the pod is deleted. It then reports the status.

Every failure a user can cause (an image that cannot run, a missing ConfigMap, a
command that does not exist) ends as a waiting reason and an Event on the pod,
never as an exception out of the sync.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pynetes.api.pods import is_terminal, pod_containers
from pynetes.client.events import NORMAL, WARNING, EventRecorder, object_reference
from pynetes.kubelet import containers as specs
from pynetes.kubelet import hostports
from pynetes.kubelet.backoff import CrashLoopBackOff
from pynetes.kubelet.etchosts import PodHostsFiles, mounts_etc_hosts
from pynetes.kubelet.format import container_reference, format_pod
from pynetes.kubelet.metrics import KubeletMetrics
from pynetes.kubelet.poddns import PodDnsFiles
from pynetes.kubelet.podstatus import PodView, Waiting, pod_status
from pynetes.kubelet.runtime.interface import (
    ContainerState,
    ContainerStatus,
    ImagePullError,
    ImageService,
    Mount,
    NetworkNotReady,
    RuntimeFailure,
    RuntimeService,
    SandboxState,
)
from pynetes.kubelet.statusmanager import is_static

log = logging.getLogger(__name__)
Object = dict[str, Any]

#: upstream's minimumGracePeriodInSeconds: a kill always allows this much.
MIN_GRACE_SECONDS = 2.0
DEFAULT_GRACE_SECONDS = 30.0
#: How many containers the kubelet creates and starts at once.
CONCURRENT_STARTS = 4
#: A pod whose sandbox or volumes could not be set up is retried after 0.5 s, then
#: twice as long each time up to about 2 minutes (upstream's volume operation backoff:
#: a ConfigMap created a moment after its pod is picked up at once, a missing one is
#: not hammered).
SETUP_RETRY_SECONDS = (0.5, 122.0)


class Volumes(Protocol):
    async def mount_pod(self, pod: Object) -> Mapping[str, Sequence[Mount]]: ...

    async def unmount_pod(self, pod_uid: str) -> None: ...

    async def cleanup_orphans(self, active_pod_uids: Collection[str]) -> list[str]: ...


class Environment(Protocol):
    """The environment and argv of a container (env.py), or an error whose text the
    user sees as ``CreateContainerConfigError``."""

    async def resolve(
        self, pod: Object, container: Object, pod_ip: str
    ) -> tuple[list[tuple[str, str]], list[str], list[str]]: ...


class Probes(Protocol):
    def add_pod(self, pod: Object, *, pod_ip: str | None = None) -> None: ...

    def container_started(
        self, pod_uid: str, container_name: str, container_id: str, started_at_ns: int
    ) -> None: ...

    def container_stopped(self, pod_uid: str, container_name: str, container_id: str) -> None: ...

    def remove_pod(self, pod_uid: str) -> None: ...

    def readiness(self, pod_uid: str, container_name: str) -> bool: ...

    def started(self, pod_uid: str, container_name: str) -> bool | None: ...


class Hooks(Protocol):
    async def post_start(
        self, pod: Object, container: Object, container_id: str, pod_ip: str
    ) -> str | None: ...

    async def pre_stop(
        self, pod: Object, container: Object, container_id: str, pod_ip: str, time_limit: float
    ) -> str | None: ...


StatusWriter = Callable[[Object, Object], Awaitable[None]]
PodDeleter = Callable[[Object], Awaitable[None]]


@dataclass
class PodRecord:
    """What the kubelet remembers of a pod between syncs."""

    uid: str
    pod: Object | None = None
    #: When the kubelet first saw the pod (monotonic), until it first ran (then None).
    first_seen: float | None = None
    sandbox_id: str | None = None
    pod_ip: str = ""
    waiting: dict[str, Waiting] = field(default_factory=dict)
    #: container name -> (container id, message): liveness or startup probe failed.
    unhealthy: dict[str, tuple[str, str]] = field(default_factory=dict)
    terminal_phase: str | None = None
    rejected: Waiting | None = None
    last_status: Object | None = None
    #: The runtime's containers by name, newest first, as of the last status.
    containers: dict[str, list[ContainerStatus]] = field(default_factory=dict)
    #: The DNS warnings already recorded as Events (once per pod, as upstream).
    dns_warned: set[str] = field(default_factory=set)
    #: The pod's etc-hosts file as last written (None: none yet).
    etc_hosts: str | None = None
    #: Every container stopped for good after a deletion (the API may now forget it).
    stopped: bool = False
    deletion_confirmed: bool = False
    #: Sandbox or volume set-ups failed in a row (the retry backs off with them).
    setup_failures: int = 0

    def setup_failed(self) -> float:
        """Count a failed set-up; the seconds until the next try."""
        first, limit = SETUP_RETRY_SECONDS
        self.setup_failures += 1
        return min(first * 2 ** (self.setup_failures - 1), limit)


@dataclass
class Clocks:
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)


@dataclass
class SyncDependencies:
    runtime: RuntimeService
    images: ImageService
    volumes: Volumes
    environment: Environment
    probes: Probes
    hooks: Hooks
    recorder: EventRecorder
    write_status: StatusWriter
    delete_pod: PodDeleter
    pods_log_dir: Path
    host_ip: str
    metrics: KubeletMetrics
    #: The pods' resolv.conf files (None: containers keep the host's).
    dns: PodDnsFiles | None = None
    #: The pods' /etc/hosts files (None: containers keep the host's).
    hosts: PodHostsFiles | None = None
    container_id_prefix: str = "pynetes"
    clocks: Clocks = field(default_factory=Clocks)


class PodSyncer:
    """Syncs pods by uid; ``desired(uid)`` is the pod the kubelet should run (None: none)."""

    def __init__(
        self, deps: SyncDependencies, desired: Callable[[str], Object | None], *, max_pods: int
    ) -> None:
        self.deps = deps
        self._desired = desired
        self._max_pods = max_pods
        self.records: dict[str, PodRecord] = {}
        self.backoff = CrashLoopBackOff(clock=deps.clocks.monotonic)
        self.image_backoff = CrashLoopBackOff(clock=deps.clocks.monotonic)
        #: Containers start a few at a time: with a burst of pods, the first ones run
        #: (and are reported Running) early instead of every pod finishing at the end.
        self._starting = asyncio.Semaphore(CONCURRENT_STARTS)

    # -- entry points ----------------------------------------------------------

    async def sync(self, uid: str) -> float | None:
        pod = self._desired(uid)
        record = self.records.get(uid)
        if pod is None:
            if record is not None:
                await self._remove(record)
            return None
        if record is None:
            record = self.records[uid] = PodRecord(uid, first_seen=self.deps.clocks.monotonic())
        record.pod = pod
        if record.rejected is None and record.sandbox_id is None:
            record.rejected = self._admit(pod)
        if record.rejected is not None:
            await self._report(pod, record)
            return None
        if pod["metadata"].get("deletionTimestamp") or record.terminal_phase:
            await self._terminate(pod, record, _grace(pod))
            await self._report(pod, record)
            if pod["metadata"].get("deletionTimestamp") and not record.deletion_confirmed:
                await self.deps.delete_pod(pod)
                record.deletion_confirmed = True
            return None
        return await self._run(pod, record)

    def adopt(self, sandbox_id: str, uid: str, ip: str) -> None:
        """A sandbox found at start-up (the kubelet restarted): its pod is synced as usual."""
        record = self.records.setdefault(uid, PodRecord(uid))
        record.sandbox_id = sandbox_id
        record.pod_ip = ip

    def mark_unhealthy(self, uid: str, container: str, container_id: str, message: str) -> None:
        record = self.records.get(uid)
        if record is not None:
            record.unhealthy[container] = (container_id, message)

    def running_sandboxes(self) -> int:
        """Pods whose sandbox runs (upstream's kubelet_running_pods)."""
        return sum(1 for r in self.records.values() if r.sandbox_id is not None and not r.stopped)

    # -- admission -------------------------------------------------------------

    def _admit(self, pod: Object) -> Waiting | None:
        """upstream's pod admission: a node runs at most maxPods pods (``OutOfpods``)."""
        if is_terminal(pod):
            return None
        used = sum(
            1
            for r in self.records.values()
            if r.sandbox_id is not None and r.rejected is None and not r.terminal_phase
        )
        if used >= self._max_pods:
            return Waiting(
                "OutOfpods",
                f"Node didn't have enough resource: pods, requested: 1, used: {used}, "
                f"capacity: {self._max_pods}",
            )
        return None

    # -- running ---------------------------------------------------------------

    async def _run(self, pod: Object, record: PodRecord) -> float | None:
        if not await self._ensure_sandbox(pod, record):
            await self._report(pod, record)
            return record.setup_failed()
        self.deps.probes.add_pod(pod, pod_ip=record.pod_ip)
        try:
            mounts = await self.deps.volumes.mount_pod(pod)
        except Exception as error:  # every volume error is the user's to see
            self._event(pod, WARNING, "FailedMount", str(error))
            await self._report(pod, record)
            return record.setup_failed()
        record.setup_failures = 0
        mounts = self._with_pod_files(pod, record, mounts)
        current = await self._containers(record)
        await self._kill_unhealthy(pod, record, current)
        wake = await self._run_init_containers(pod, record, current, mounts)
        if wake is False:
            wake = await self._run_app_containers(pod, record, current, mounts)
            await self._run_ephemeral_containers(pod, record, current, mounts)
        else:
            for container in pod["spec"].get("containers") or ():
                record.waiting[container["name"]] = Waiting("PodInitializing")
        await self._report(pod, record)
        if record.terminal_phase:
            await self._finish(record)
        return wake if isinstance(wake, float) else None

    def _with_pod_files(
        self, pod: Object, record: PodRecord, mounts: Mapping[str, Sequence[Mount]]
    ) -> Mapping[str, Sequence[Mount]]:
        """Every container also gets the pod's resolv.conf and /etc/hosts where they
        differ from the host's (the latter unless it mounts a volume there itself)."""
        dns = self._dns_mounts(pod, record)
        hosts = self._hosts_mounts(pod, record)
        if not dns and not hosts:
            return mounts
        extra = {
            container["name"]: [*dns, *([] if mounts_etc_hosts(container) else hosts)]
            for container in pod_containers(pod.get("spec") or {})
        }
        return {name: [*mounts.get(name, ()), *more] for name, more in extra.items()}

    def _dns_mounts(self, pod: Object, record: PodRecord) -> list[Mount]:
        if self.deps.dns is None:
            return []
        mounts, warnings = self.deps.dns.prepare(pod)
        for reason, message in warnings:
            if reason not in record.dns_warned:
                record.dns_warned.add(reason)
                self._event(pod, WARNING, reason, message)
        return mounts

    def _hosts_mounts(self, pod: Object, record: PodRecord) -> list[Mount]:
        hosts = self.deps.hosts
        if hosts is None:
            return []
        own_network = bool(record.pod_ip) and record.pod_ip != self.deps.host_ip
        text = hosts.content(pod, record.pod_ip, own_network=own_network)
        if text is None:
            return []
        uid = pod["metadata"]["uid"]
        if text != record.etc_hosts:
            hosts.write(uid, text)
            record.etc_hosts = text
        return [hosts.mount(uid)]

    async def _ensure_sandbox(self, pod: Object, record: PodRecord) -> bool:
        runtime = self.deps.runtime
        if record.sandbox_id is not None:
            try:
                status = await runtime.pod_sandbox_status(record.sandbox_id)
                if status.state is SandboxState.READY:
                    return True
            except RuntimeFailure:
                pass
        config = specs.sandbox_config(pod, self.deps.pods_log_dir)
        try:
            record.sandbox_id = await runtime.run_pod_sandbox(config)
            record.pod_ip = (await runtime.pod_sandbox_status(record.sandbox_id)).ip
        except NetworkNotReady as error:
            self._event(pod, WARNING, "NetworkNotReady", f"network is not ready: {error}")
            return False
        except RuntimeFailure as error:
            self._event(
                pod, WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {error}"
            )
            return False
        self._warn_port_conflicts(pod, record)
        return True

    def _warn_port_conflicts(self, pod: Object, record: PodRecord) -> None:
        """A Warning when a port the new sandbox takes on the node is another running
        pod's (see hostports.py)."""
        host_ip = self.deps.host_ip
        others = [
            (r.pod, hostports.node_ports(r.pod, r.pod_ip == host_ip))
            for r in self.records.values()
            if r is not record
            and r.pod is not None
            and r.sandbox_id is not None
            and not r.stopped
            and r.rejected is None
        ]
        found = hostports.conflicts(hostports.node_ports(pod, record.pod_ip == host_ip), others)
        if found:
            message = f"{hostports.MESSAGE}: {', '.join(found)}"
            self._event(pod, WARNING, hostports.REASON, message)

    async def _containers(self, record: PodRecord) -> dict[str, list[ContainerStatus]]:
        """The pod's runtime containers by name, newest attempt first."""
        grouped: dict[str, list[ContainerStatus]] = {}
        if record.sandbox_id is None:
            return grouped
        for container in await self.deps.runtime.list_containers(record.sandbox_id):
            grouped.setdefault(container.name, []).append(container)
        for attempts in grouped.values():
            attempts.sort(key=lambda c: c.attempt, reverse=True)
        return grouped

    async def _kill_unhealthy(
        self, pod: Object, record: PodRecord, current: dict[str, list[ContainerStatus]]
    ) -> None:
        for name, (container_id, message) in list(record.unhealthy.items()):
            del record.unhealthy[name]
            latest = (current.get(name) or [None])[0]
            if (
                latest is None
                or latest.id != container_id
                or latest.state is not ContainerState.RUNNING
            ):
                continue
            spec = _container_spec(pod, name)
            if spec is not None:
                self._event(pod, NORMAL, "Killing", message, name)
                await self._stop(pod, record, spec, latest, _grace(pod))
        for name in list(current):
            current[name] = await self._refresh(current[name])

    async def _refresh(self, attempts: list[ContainerStatus]) -> list[ContainerStatus]:
        if not attempts or attempts[0].state is not ContainerState.RUNNING:
            return attempts
        try:
            return [await self.deps.runtime.container_status(attempts[0].id), *attempts[1:]]
        except RuntimeFailure:
            return attempts

    async def _run_init_containers(
        self,
        pod: Object,
        record: PodRecord,
        current: dict[str, list[ContainerStatus]],
        mounts: Mapping[str, Sequence[Mount]],
    ) -> bool | float:
        """False when every init container succeeded; else True, or seconds to wait."""
        for container in pod["spec"].get("initContainers") or ():
            latest = (current.get(container["name"]) or [None])[0]
            if latest is not None and latest.state is ContainerState.RUNNING:
                return True
            if latest is not None and latest.state is ContainerState.EXITED:
                if latest.exit_code == 0:
                    continue
                if pod["spec"].get("restartPolicy") == "Never":
                    record.terminal_phase = "Failed"
                    return True
            wait = await self._start_or_back_off(pod, record, container, latest, mounts)
            return wait if wait else True
        return False

    async def _run_app_containers(
        self,
        pod: Object,
        record: PodRecord,
        current: dict[str, list[ContainerStatus]],
        mounts: Mapping[str, Sequence[Mount]],
    ) -> float | None:
        policy = pod["spec"].get("restartPolicy", "Always")
        wakes: list[float] = []
        finished: list[int] = []
        app = pod["spec"].get("containers") or ()
        for container in app:
            name = container["name"]
            latest = (current.get(name) or [None])[0]
            if latest is not None and latest.state is ContainerState.RUNNING:
                if latest.annotations.get(specs.CONTAINER_HASH_ANNOTATION) == specs.container_hash(
                    container
                ):
                    record.waiting.pop(name, None)
                    continue
                message = f"Container {name} definition changed, will be restarted"
                self._event(pod, NORMAL, "Killing", message, name)
                latest = await self._stop(pod, record, container, latest, _grace(pod))
            if (
                latest is not None
                and latest.state is ContainerState.EXITED
                and not specs.should_restart(policy, latest.exit_code)
            ):
                record.waiting.pop(name, None)
                finished.append(latest.exit_code)
                continue
            wait = await self._start_or_back_off(pod, record, container, latest, mounts)
            if wait:
                wakes.append(wait)
        if app and len(finished) == len(app):
            record.terminal_phase = "Failed" if any(finished) else "Succeeded"
        return min(wakes) if wakes else None

    async def _run_ephemeral_containers(
        self,
        pod: Object,
        record: PodRecord,
        current: dict[str, list[ContainerStatus]],
        mounts: Mapping[str, Sequence[Mount]],
    ) -> None:
        """Start each ephemeral container once (``kubectl debug``): never restarted, never
        probed, and no part of the pod's phase."""
        for container in pod["spec"].get("ephemeralContainers") or ():
            if not current.get(container["name"]):
                async with self._starting:
                    await self._start(pod, record, container, 0, mounts)

    async def _start_or_back_off(
        self,
        pod: Object,
        record: PodRecord,
        container: Object,
        latest: ContainerStatus | None,
        mounts: Mapping[str, Sequence[Mount]],
    ) -> float:
        """Start the container's next attempt, or say how long its back-off has left."""
        name = container["name"]
        uid = record.uid
        attempt = 0
        if latest is not None:
            attempt = (
                latest.attempt + 1 if latest.state is ContainerState.EXITED else latest.attempt
            )
            if latest.state is ContainerState.EXITED:
                since = max(0.0, self.deps.clocks.wall() - latest.finished_at / 1e9)
                wait = self.backoff.remaining(uid, name, since)
                if wait > 0:
                    message = (
                        f"back-off {_seconds(self.backoff.current(uid, name))} restarting failed "
                        f"container={name} pod={format_pod(pod)}"
                    )
                    if record.waiting.get(name, Waiting("")).reason != "CrashLoopBackOff":
                        self._event(
                            pod,
                            WARNING,
                            "BackOff",
                            f"Back-off restarting failed container {name} in pod {format_pod(pod)}",
                            name,
                        )
                    record.waiting[name] = Waiting("CrashLoopBackOff", message)
                    return wait
                self.backoff.restarted(uid, name)
        waited = self.image_backoff.remaining(uid, "image:" + name, 0.0)
        if waited > 0 and record.waiting.get(name, Waiting("")).reason in (
            "ErrImagePull",
            "ImagePullBackOff",
        ):
            record.waiting[name] = Waiting(
                "ImagePullBackOff", f'Back-off pulling image "{container.get("image", "")}"'
            )
            return waited
        async with self._starting:
            await self._start(pod, record, container, attempt, mounts)
        return 0.0

    async def _start(
        self,
        pod: Object,
        record: PodRecord,
        container: Object,
        attempt: int,
        mounts: Mapping[str, Sequence[Mount]],
    ) -> bool:
        name = container["name"]
        image = container.get("image", "")
        deps = self.deps
        if not container.get("command"):
            try:
                await deps.images.pull_image(image)
            except ImagePullError as error:
                self.image_backoff.restarted(record.uid, "image:" + name)
                self._event(
                    pod, WARNING, "Failed", f'Failed to pull image "{image}": {error}', name
                )
                self._event(pod, WARNING, "Failed", "Error: ErrImagePull", name)
                record.waiting[name] = Waiting("ErrImagePull", str(error))
                return False
        self._event(
            pod, NORMAL, "Pulled", f'Container image "{image}" already present on machine', name
        )
        try:
            env, command, args = await deps.environment.resolve(pod, container, record.pod_ip)
        except Exception as error:  # a missing ConfigMap or key is the user's to fix
            self._event(pod, WARNING, "Failed", f"Error: {error}", name)
            record.waiting[name] = Waiting("CreateContainerConfigError", str(error))
            return False
        config = specs.container_config(
            pod,
            container,
            attempt=attempt,
            env=env,
            command=command,
            args=args,
            mounts=mounts.get(name, ()),
        )
        assert record.sandbox_id is not None
        sandbox = specs.sandbox_config(pod, deps.pods_log_dir)
        try:
            container_id = await deps.runtime.create_container(record.sandbox_id, config, sandbox)
        except RuntimeFailure as error:
            self._event(pod, WARNING, "Failed", f"Error: {error}", name)
            record.waiting[name] = Waiting(error.reason, str(error))
            return False
        self._event(pod, NORMAL, "Created", f"Created container {name}", name)
        try:
            await deps.runtime.start_container(container_id)
        except RuntimeFailure as error:
            self._event(pod, WARNING, "Failed", f"Error: {error}", name)
            errors = deps.metrics.started_containers_errors
            errors.labels(error.reason, _container_type(pod, name)).inc()
            record.waiting[name] = Waiting("RunContainerError", str(error))
            if await self._exited(container_id):
                # As with containerd: the failed start is the container's terminated state
                # (128, StartError), and restartPolicy decides what comes next.
                del record.waiting[name]
            return False
        self._event(pod, NORMAL, "Started", f"Started container {name}", name)
        deps.metrics.started_containers.labels(_container_type(pod, name)).inc()
        record.waiting.pop(name, None)
        deps.probes.container_started(record.uid, name, container_id, time.time_ns())
        await self._remove_old_attempts(record, name, attempt)
        if (container.get("lifecycle") or {}).get("postStart"):
            failure = await deps.hooks.post_start(pod, container, container_id, record.pod_ip)
            if failure is not None:
                self._event(pod, WARNING, "FailedPostStartHook", failure, name)
                status = await deps.runtime.container_status(container_id)
                await self._stop(pod, record, container, status, _grace(pod), pre_stop=False)
        return True

    async def _exited(self, container_id: str) -> bool:
        try:
            status = await self.deps.runtime.container_status(container_id)
        except RuntimeFailure:
            return False
        return status.state is ContainerState.EXITED

    async def _remove_old_attempts(self, record: PodRecord, name: str, attempt: int) -> None:
        """Keep the current attempt and the one before it (``lastState``, ``--previous``)."""
        assert record.sandbox_id is not None
        for container in await self.deps.runtime.list_containers(record.sandbox_id):
            if container.name == name and container.attempt < attempt - 1:
                await self._remove_container(container)

    async def _remove_container(self, container: ContainerStatus) -> None:
        try:
            await self.deps.runtime.remove_container(container.id)
        except RuntimeFailure as error:
            log.warning("could not remove container %s: %s", container.id, error)
        if container.log_path:
            _unlink(container.log_path)

    # -- stopping ----------------------------------------------------------------

    async def _stop(
        self,
        pod: Object,
        record: PodRecord,
        container: Object,
        status: ContainerStatus,
        grace: float,
        *,
        pre_stop: bool = True,
    ) -> ContainerStatus:
        """preStop within the grace period, then SIGTERM, then SIGKILL when it runs out."""
        started = self.deps.clocks.monotonic()
        if pre_stop and (container.get("lifecycle") or {}).get("preStop"):
            failure = await self.deps.hooks.pre_stop(
                pod, container, status.id, record.pod_ip, grace
            )
            if failure is not None:
                self._event(pod, WARNING, "FailedPreStopHook", failure, container["name"])
        left = max(MIN_GRACE_SECONDS, grace - (self.deps.clocks.monotonic() - started))
        self.deps.probes.container_stopped(record.uid, container["name"], status.id)
        try:
            await self.deps.runtime.stop_container(status.id, left)
            return await self.deps.runtime.container_status(status.id)
        except RuntimeFailure as error:
            log.warning("could not stop container %s: %s", status.id, error)
            return status

    async def _terminate(self, pod: Object, record: PodRecord, grace: float) -> None:
        """Stop every running container of the pod at once, each with the grace period."""
        if record.stopped:
            return
        current = await self._containers(record)
        stopping = []
        for name, attempts in current.items():
            latest = attempts[0]
            if latest.state not in (ContainerState.RUNNING, ContainerState.CREATED):
                continue
            spec = _container_spec(pod, name) or {"name": name}
            self._event(pod, NORMAL, "Killing", f"Stopping container {name}", name)
            stopping.append(self._stop(pod, record, spec, latest, grace))
        await asyncio.gather(*stopping)
        await self._finish(record)

    async def _finish(self, record: PodRecord) -> None:
        """Every container stopped: the sandbox goes, and the probes with it."""
        self.deps.probes.remove_pod(record.uid)
        if record.sandbox_id is not None:
            try:
                await self.deps.runtime.stop_pod_sandbox(record.sandbox_id)
            except RuntimeFailure as error:
                log.warning("could not stop sandbox %s: %s", record.sandbox_id, error)
        record.stopped = True

    async def _remove(self, record: PodRecord) -> None:
        """The pod is gone from every source: stop and remove all that is left of it."""
        pod = record.pod or {"metadata": {"uid": record.uid, "name": "", "namespace": ""}}
        await self._terminate(pod, record, _grace(pod))
        if record.sandbox_id is not None:
            for container in await self.deps.runtime.list_containers(record.sandbox_id):
                await self._remove_container(container)
            try:
                await self.deps.runtime.remove_pod_sandbox(record.sandbox_id)
            except RuntimeFailure as error:
                log.warning("could not remove sandbox %s: %s", record.sandbox_id, error)
        await self.deps.volumes.unmount_pod(record.uid)
        self.backoff.forget_pod(record.uid)
        self.image_backoff.forget_pod(record.uid)
        self.records.pop(record.uid, None)

    # -- status and events ---------------------------------------------------------

    async def _report(self, pod: Object, record: PodRecord) -> None:
        current = record.containers = await self._containers(record)
        uid = record.uid
        probes = self.deps.probes
        base = {**pod, "status": record.last_status or pod.get("status") or {}}
        view = PodView(
            pod=base,
            host_ip=self.deps.host_ip,
            pod_ip=record.pod_ip,
            sandbox_ready=record.sandbox_id is not None and not record.stopped,
            containers=current,
            waiting=dict(record.waiting),
            ready=lambda name: probes.readiness(uid, name),
            started=lambda name: probes.started(uid, name),
            container_id_prefix=self.deps.container_id_prefix,
            terminal_phase=record.terminal_phase,
            rejected=record.rejected,
            stopped_for_good=record.stopped,
            others_conditions=None if is_static(pod) else _api_conditions(pod),
        )
        status = pod_status(view, self.deps.clocks.now())
        record.last_status = status
        if record.first_seen is not None and status["phase"] == "Running":
            elapsed = self.deps.clocks.monotonic() - record.first_seen
            self.deps.metrics.pod_start_duration.observe(elapsed)
            record.first_seen = None
        await self.deps.write_status(pod, status)

    def _event(
        self, pod: Object, kind: str, reason: str, message: str, container: str | None = None
    ) -> None:
        if container:
            reference = container_reference(pod, container)
        else:
            reference = object_reference({**pod, "kind": "Pod", "apiVersion": "v1"})
        self.deps.recorder.event(reference, kind, reason, message)


def _api_conditions(pod: Object) -> list[Object]:
    return list((pod.get("status") or {}).get("conditions") or ())


def _unlink(path: str) -> None:
    """Remove a container's log file with its container (as upstream's removeContainerLog)."""
    Path(path).unlink(missing_ok=True)


def _container_spec(pod: Object, name: str) -> Object | None:
    for container in pod_containers(pod.get("spec") or {}):
        if container.get("name") == name:
            return container
    return None


def _container_type(pod: Object, name: str) -> str:
    """upstream's container_type label: ``init_container`` or ``container``."""
    init = (pod.get("spec") or {}).get("initContainers") or ()
    return "init_container" if any(c.get("name") == name for c in init) else "container"


def _grace(pod: Object) -> float:
    """The deletion's grace period, else the pod's terminationGracePeriodSeconds."""
    grace = pod["metadata"].get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return float(DEFAULT_GRACE_SECONDS if grace is None else grace)


def _seconds(value: float) -> str:
    """Go's duration text for whole seconds as the back-off message shows it (``10s``,
    ``1m20s``, ``5m0s``)."""
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
