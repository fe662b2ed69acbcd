"""Everything one kubelet runs, put together: what ``pynetes kubelet`` starts, and tests too.

:class:`KubeletAgent` builds, from a client and a :class:`KubeletConfiguration`,
the process runtime, the volume manager, the container environment, the probe
manager, the pod machinery (:class:`~pynetes.kubelet.kubelet.Kubelet`), the Node
status reporter and Lease, the static pod source with its mirror pods, log
rotation, and the kubelet's HTTPS API. ``start`` returns once all of it runs;
pods keep running without the API server (static pods start without it).

Folders under ``root_dir`` (upstream's layout where it has one):
``pods/<uid>/volumes/...`` (volumes), ``runtime/`` (the process runtime's
records; upstream's containerd keeps its own), ``pki/`` (the self-signed serving
certificate, as upstream's ``--cert-dir``), ``images.yaml`` (the image catalog).

Pod networking (``AgentOptions.cni``): once the kubelet knows its podCIDR (the
configuration's ``podCIDR``, else its Node's ``spec.podCIDR`` as the node IPAM
controller sets it) it hands it to the runtime, which writes the default CNI network
configuration when the folder has none (as upstream's kubelet calls the CRI's
UpdateRuntimeConfig and containerd writes its template). Until then a pod off the host
network waits (a ``NetworkNotReady`` event, retried), and every pod is synced again the
moment the configuration is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from pynetes.api.quantity import parse_quantity
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import Informer
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.kubelet import lifecycle
from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.env import ContainerEnvironment
from pynetes.kubelet.etchosts import PodHostsFiles
from pynetes.kubelet.kubelet import Kubelet, KubeletSettings, delete_from_api
from pynetes.kubelet.logs import rotate_if_needed
from pynetes.kubelet.lookup import ApiObjectLookup
from pynetes.kubelet.metrics import KubeletMetrics
from pynetes.kubelet.mirror import MirrorPods
from pynetes.kubelet.nodestatus import NodeStatusReporter
from pynetes.kubelet.poddns import PodDnsFiles
from pynetes.kubelet.prober.manager import ProbeManager
from pynetes.kubelet.runtime.interface import ContainerState, ContainerStatus, RuntimeService
from pynetes.kubelet.runtime.process.cni import CniOptions
from pynetes.kubelet.runtime.process.images import ImageCatalog
from pynetes.kubelet.runtime.process.runtime import RUNTIME_NAME, RUNTIME_VERSION, ProcessRuntime
from pynetes.kubelet.server.app import KubeletServer, ServingOptions
from pynetes.kubelet.staticpods import StaticPodSource
from pynetes.kubelet.syncpod import Clocks, SyncDependencies
from pynetes.kubelet.volumes.manager import VolumeManager
from pynetes.kubelet.volumes.tmpfs import unmount_all_under

log = logging.getLogger(__name__)
Object = dict[str, Any]
SERVICES = built_in("", "v1", "services")
NODES = built_in("", "v1", "nodes")
#: Seconds between looks at the Node for a podCIDR the node IPAM controller assigns
#: (pods off the host network wait for it; a GET each, only until it is there).
POD_CIDR_POLL = 0.5
#: Seconds between checks of the container logs' sizes (upstream's containerLogMonitorInterval).
LOG_MONITOR_INTERVAL = 10.0


@dataclass(frozen=True)
class AgentOptions:
    node_name: str
    root_dir: Path
    node_ip: str = "127.0.0.1"
    #: The CA that signs the clients of the kubelet's API (the API server's certificate).
    client_ca_file: Path | None = None
    image_catalog: Path | None = None
    #: The pod machinery's clocks (tests move them to cross back-offs without waiting).
    clocks: Clocks = field(default_factory=Clocks)
    #: Pod networking through CNI (None: every pod shares the host network).
    cni: CniOptions | None = None


class _Hooks:
    """The lifecycle hooks, run through the runtime, with their Events."""

    def __init__(self, runtime: RuntimeService, recorder: EventRecorder) -> None:
        self._runtime = runtime
        self._recorder = recorder

    async def post_start(
        self, pod: Object, container: Object, container_id: str, pod_ip: str
    ) -> str | None:
        return await lifecycle.run_post_start(
            self._runtime, pod, container, container_id, pod_ip, recorder=self._recorder.event
        )

    async def pre_stop(
        self, pod: Object, container: Object, container_id: str, pod_ip: str, time_limit: float
    ) -> str | None:
        return await lifecycle.run_pre_stop(
            self._runtime,
            pod,
            container,
            container_id,
            pod_ip,
            time_limit,
            recorder=self._recorder.event,
        )


class KubeletAgent:
    """One node's kubelet. Use ``async with`` or ``start``/``stop``; containers outlive it."""

    def __init__(
        self, client: ApiClient, config: KubeletConfiguration, options: AgentOptions
    ) -> None:
        self.client = client
        self.config = config
        self.options = options
        root = options.root_dir
        self.recorder = EventRecorder(client, "kubelet", reporting_instance=options.node_name)
        self.runtime = self.runtime_for(
            root, options.node_ip, options.image_catalog, cni_options=options.cni
        )
        self.services = Informer(client, SERVICES)
        lookup = ApiObjectLookup(client)
        allocatable = {k: parse_quantity(v) for k, v in config.capacity_overrides.items()}
        self.volumes = VolumeManager(root / "pods", lookup, node_allocatable=allocatable or None)
        self.probes: ProbeManager | None = None
        self.kubelet: Kubelet | None = None
        self.reporter = NodeStatusReporter(
            client,
            config,
            options.node_name,
            options.node_ip,
            f"{RUNTIME_NAME}://{RUNTIME_VERSION}",
            root_dir=str(root),
            recorder=self.recorder,
        )
        self._environment = ContainerEnvironment(
            lookup,
            self.services.store.list,
            node_name=options.node_name,
            host_ip=options.node_ip,
            node_allocatable=allocatable or None,
            recorder=self.recorder,
        )
        self.metrics = CollectorRegistry()
        self.kubelet_metrics = KubeletMetrics(self.metrics)
        self._last_rotation = 0.0
        self.server: KubeletServer | None = None
        self.port = 0
        self._mirrors: MirrorPods | None = None
        self._static: list[Object] = []
        self._tasks: list[asyncio.Task[Any]] = []

    @staticmethod
    def runtime_for(
        root: Path,
        node_ip: str = "127.0.0.1",
        image_catalog: Path | None = None,
        *,
        cni_options: CniOptions | None = None,
    ) -> ProcessRuntime:
        """The process runtime of a kubelet on ``root`` (its records are in ``root/runtime``)."""
        return ProcessRuntime(
            root / "runtime",
            node_ip=node_ip,
            images=ImageCatalog(image_catalog or root / "images.yaml"),
            cni_options=cni_options,
        )

    async def __aenter__(self) -> KubeletAgent:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        config, options = self.config, self.options
        await asyncio.to_thread(_prepare_folders, options.root_dir, Path(config.pod_logs_dir))
        probes = self.probes = ProbeManager(
            self.runtime,
            on_change=self._probe_changed,
            on_liveness_failure=self._container_unhealthy,
            on_startup_failure=self._container_unhealthy,
            recorder=self.recorder.event,
        )
        deps = SyncDependencies(
            runtime=self.runtime,
            images=self.runtime,
            volumes=self.volumes,
            environment=self._environment,
            probes=probes,
            hooks=_Hooks(self.runtime, self.recorder),
            recorder=self.recorder,
            write_status=self._write_status,
            delete_pod=lambda pod: delete_from_api(self.client, pod),
            pods_log_dir=Path(config.pod_logs_dir),
            host_ip=options.node_ip,
            metrics=self.kubelet_metrics,
            dns=(
                PodDnsFiles(options.root_dir / "pods", config.cluster_dns, config.cluster_domain)
                if config.cluster_dns
                else None
            ),
            hosts=PodHostsFiles(options.root_dir / "pods", config.cluster_domain),
            container_id_prefix=RUNTIME_NAME,
            clocks=options.clocks,
        )
        settings = KubeletSettings(
            node_name=options.node_name,
            sync_frequency=config.sync_frequency,
            max_pods=config.max_pods,
        )
        kubelet = self.kubelet = Kubelet(self.client, settings, deps, housekeeping=self._housekeep)
        self.services.start()
        static = bool(config.static_pod_path)
        await kubelet.start(static_pods=static)
        self._tasks.append(asyncio.create_task(self.reporter.run(), name="node-status"))
        if options.cni is not None:
            self._tasks.append(asyncio.create_task(self._pod_cidr(), name="pod-cidr"))
        if static:
            source = StaticPodSource(
                config.static_pod_path,
                options.node_name,
                self._static_pods_changed,
                self.recorder,
                period=config.file_check_frequency,
            )
            self._tasks.append(asyncio.create_task(source.run(), name="static-pods"))
            self._tasks.append(asyncio.create_task(self._mirror_pods(), name="mirror-pods"))
        self.server = KubeletServer(
            kubelet.served_pods,
            self.runtime,
            registry=self.metrics,
            options=ServingOptions(
                address=config.address,
                port=config.port,
                tls_cert_file=Path(config.tls_cert_file) if config.tls_cert_file else None,
                tls_private_key_file=(
                    Path(config.tls_private_key_file) if config.tls_private_key_file else None
                ),
                cert_dir=options.root_dir / "pki",
                client_ca_file=_client_ca(config, options),
            ),
        )
        self.port = await self.server.start()

    async def stop(self) -> None:
        """Stop the kubelet's own work; the pods' processes keep running (as upstream)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.server is not None:
            await self.server.stop()
        if self.kubelet is not None:
            await self.kubelet.stop()
        if self.probes is not None:
            await self.probes.close()
        await self.services.stop()
        await self.recorder.close()
        await self.runtime.close()

    # -- pod network ----------------------------------------------------------------

    async def _pod_cidr(self) -> None:
        """Hands the runtime the node's podCIDR once known (see the module)."""
        cidr = self.config.pod_cidr
        if not cidr:
            await self.reporter.registered.wait()
            while not cidr:
                try:
                    node = await self.client.get(NODES, self.options.node_name)
                    cidr = (node.get("spec") or {}).get("podCIDR", "")
                except (errors.ApiError, errors.TransportError) as error:
                    log.warning("reading the node's podCIDR: %s", error)
                if not cidr:
                    await asyncio.sleep(POD_CIDR_POLL)
        await self.runtime.update_runtime_config(cidr)
        if self.kubelet is not None:
            self.kubelet.workers.update_all()  # pods waiting for the network: now

    # -- static and mirror pods ------------------------------------------------------

    def _static_pods_changed(self, pods: list[Object]) -> None:
        assert self.kubelet is not None
        self.kubelet.set_static_pods(pods)
        if self._mirrors is not None:
            self._mirrors.set_static_pods(pods)
        self._static = pods

    async def _mirror_pods(self) -> None:
        """Once the Node is registered (its uid owns the mirror pods), keep them in line."""
        await self.reporter.registered.wait()
        assert self.kubelet is not None and self.reporter.node_uid is not None
        mirrors = self._mirrors = MirrorPods(
            self.client, self.options.node_name, self.reporter.node_uid
        )
        mirrors.set_static_pods(self._static)
        self.kubelet.on_mirror_change = mirrors.poke
        await mirrors.run(self.kubelet.pods_informer.store.list)

    # -- callbacks (the probe manager exists before the kubelet it calls) ---------------

    def _probe_changed(self, uid: str) -> None:
        if self.kubelet is not None:
            self.kubelet.probe_changed(uid)

    def _container_unhealthy(self, uid: str, name: str, container_id: str, message: str) -> None:
        if self.kubelet is not None:
            self.kubelet.container_unhealthy(uid, name, container_id, message)

    # -- housekeeping ----------------------------------------------------------------

    async def _write_status(self, pod: Object, status: Object) -> None:
        assert self.kubelet is not None
        await self.kubelet.statuses.write(pod, status)

    async def _housekeep(self) -> None:
        """The running pod and container gauges; log rotation every 10 s (upstream's
        containerLogMonitorInterval)."""
        containers = await self.runtime.list_containers()
        states: dict[str, int] = {}
        for container in containers:
            state = container.state.name.lower()
            states[state] = states.get(state, 0) + 1
        for state in ("created", "running", "exited", "unknown"):
            self.kubelet_metrics.running_containers.labels(state).set(states.get(state, 0))
        assert self.kubelet is not None
        self.kubelet_metrics.running_pods.set(self.kubelet.syncer.running_sandboxes())
        now = time.monotonic()
        if now - self._last_rotation >= LOG_MONITOR_INTERVAL:
            self._last_rotation = now
            await self._rotate_logs(containers)

    async def _rotate_logs(self, containers: list[ContainerStatus]) -> None:
        """containerLogMaxSize / containerLogMaxFiles, for every running container."""
        max_size = parse_quantity(self.config.container_log_max_size).value()
        for container in containers:
            if container.state is ContainerState.RUNNING:
                await rotate_if_needed(
                    self.runtime, container.id, max_size, self.config.container_log_max_files
                )


async def stop_containers(root: Path, grace_period: float = 0.0) -> int:
    """Stop every container a kubelet on ``root`` left running (they outlive the kubelet,
    as upstream's do; a cluster that is torn down must not leave them). How many."""
    runtime = KubeletAgent.runtime_for(root)
    stopped = 0
    try:
        for container in await runtime.list_containers():
            if container.state is ContainerState.RUNNING:
                await runtime.stop_container(container.id, grace_period)
                stopped += 1
    finally:
        await runtime.close()
    return stopped


async def tear_down_pods(root: Path, cni_options: CniOptions | None = None) -> None:
    """What a node that is shut down must not leave behind: the pods' processes (see
    :func:`stop_containers`), their sandboxes' network namespaces, interfaces and
    address allocations (through the CNI plugins in ``cni_options``), and the mounts
    of their volumes, their cgroups. The kubelet, started again, sets them up anew."""
    await stop_containers(root)
    runtime = KubeletAgent.runtime_for(root, cni_options=cni_options)
    try:
        for sandbox in await runtime.list_pod_sandboxes():
            await runtime.stop_pod_sandbox(sandbox.id)
    finally:
        await runtime.close()
    await unmount_all_under(root / "pods")


def _client_ca(config: KubeletConfiguration, options: AgentOptions) -> Path | None:
    if config.client_ca_file:
        return Path(config.client_ca_file)
    return options.client_ca_file


def _prepare_folders(root: Path, logs: Path) -> None:
    for folder in (root, root / "pods", logs):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o750)
