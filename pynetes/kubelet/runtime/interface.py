"""The container runtime interface, shaped like Kubernetes' CRI (RuntimeService + ImageService).

The kubelet talks to every runtime through these protocols and nothing else, so a
runtime that speaks the real CRI over gRPC (containerd) slots in beside the process
runtime. Names follow the CRI's protobuf messages (``PodSandboxConfig``,
``ContainerConfig``, ``ContainerStatus``...), in Python casing.

Contracts every runtime keeps:

- Identity survives restarts. Sandboxes and containers carry the kubelet's labels
  (``io.kubernetes.pod.uid``, ``io.kubernetes.container.name``...) and ``attempt``;
  a kubelet that restarts lists them and adopts what still runs, so it never starts a
  second copy of a container.
- Times are nanoseconds since the epoch (wall clock), as the CRI reports them.
- A container's stdout and stderr go to ``log_path`` in the CRI log format
  (crilog.py), written by the runtime, not the kubelet, so that logs keep flowing
  while the kubelet is down.
- Errors are ``RuntimeFailure`` subclasses with a CRI-like reason the kubelet turns
  into the container's waiting reason (``CreateContainerError``, ``ErrImagePull``...).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

#: Labels the kubelet puts on sandboxes and containers (upstream's names).
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"


class RuntimeFailure(Exception):
    """A runtime call failed; ``reason`` is the kubelet's waiting reason for it."""

    reason = "CreateContainerError"


class NetworkNotReady(RuntimeFailure):
    """Pod networking is set up on this node but not configured yet (CRI's
    NetworkReady=false): a sandbox off the host network cannot be made until it is."""


class ImagePullError(RuntimeFailure):
    """The image cannot be resolved to something this runtime can run."""

    reason = "ErrImagePull"


class ContainerNotFound(RuntimeFailure):
    """No container (or sandbox) has that id."""

    reason = "ContainerNotFound"


class SandboxState(enum.Enum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


class ContainerState(enum.Enum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


@dataclass(frozen=True)
class PortMapping:
    """A container port published on the node (CRI PortMapping: a ``hostPort``)."""

    container_port: int
    host_port: int
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class PodSandboxConfig:
    """What the kubelet asks of a pod's sandbox (CRI PodSandboxConfig)."""

    name: str
    namespace: str
    uid: str
    attempt: int = 0
    hostname: str = ""
    #: Folder the container logs of this pod go under (``/var/log/pods/<ns>_<name>_<uid>``).
    log_directory: str = ""
    host_network: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: The cgroup the pod's containers go under, relative to the runtime's root ("" = none).
    cgroup_parent: str = ""
    #: The pod's hostPorts (a runtime with pod networking publishes them).
    port_mappings: Sequence[PortMapping] = ()


@dataclass(frozen=True)
class PodSandboxStatus:
    id: str
    name: str
    namespace: str
    uid: str
    attempt: int
    state: SandboxState
    created_at: int
    #: The pod's IP (the node's own for host-network sandboxes and the process runtime).
    ip: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mount:
    """A host path seen by the container at ``container_path`` (CRI Mount)."""

    container_path: str
    host_path: str
    read_only: bool = False


@dataclass(frozen=True)
class LinuxResources:
    """The cgroup settings of a container (CRI LinuxContainerResources); 0 = unset."""

    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0


@dataclass(frozen=True)
class ContainerConfig:
    """What the kubelet asks of one container (CRI ContainerConfig).

    ``command`` and ``args`` are the pod spec's, already ``$(VAR)``-expanded by the
    kubelet; the runtime combines them with the image's entrypoint as Docker does
    (command replaces the entrypoint, args replace the image's default arguments).
    """

    name: str
    image: str
    attempt: int = 0
    command: Sequence[str] = ()
    args: Sequence[str] = ()
    working_dir: str = ""
    env: Sequence[tuple[str, str]] = ()
    mounts: Sequence[Mount] = ()
    #: Relative to the sandbox's log_directory (``<container>/<attempt>.log``).
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: LinuxResources = field(default_factory=LinuxResources)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStatus:
    """A container as the runtime last saw it (CRI ContainerStatus)."""

    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    image: str
    image_ref: str
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    #: Set by the runtime for exits it can explain: "OOMKilled", "Error", "Completed".
    reason: str = ""
    message: str = ""
    #: Absolute path of the container's CRI log file.
    log_path: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStats:
    """A running container's resource usage (CRI ContainerStats): cumulative CPU time
    and the memory working set, read at ``timestamp`` (ns since the epoch)."""

    id: str
    labels: Mapping[str, str]
    timestamp: int
    cpu_usage_core_nanoseconds: int
    memory_working_set_bytes: int


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


@dataclass(frozen=True)
class ContainerEvent:
    """A container changed state (CRI ContainerEventResponse): the kubelet resyncs its pod."""

    container_id: str
    sandbox_id: str
    pod_uid: str
    state: ContainerState


class StreamSession(Protocol):
    """An exec or attach session: the streams of a process inside a container.

    ``stdout``/``stderr`` are ``None`` when not requested (with a TTY, stderr is
    merged into stdout, as with any terminal).
    """

    stdout: asyncio.StreamReader | None
    stderr: asyncio.StreamReader | None

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code; for attach, the container's when it exits."""
        ...

    async def close(self) -> None:
        """Ends the session; an exec'd process is killed, an attached container is not."""
        ...


@dataclass(frozen=True)
class Image:
    id: str
    #: The command an image runs when the pod gives none (Docker's ENTRYPOINT + CMD).
    entrypoint: Sequence[str]
    cmd: Sequence[str] = ()
    repo_tags: Sequence[str] = ()
    size: int = 0


EventHandler = Callable[[ContainerEvent], Awaitable[None] | None]


class RuntimeService(Protocol):
    """The CRI RuntimeService: sandboxes, containers, streams."""

    async def version(self) -> tuple[str, str]:
        """(runtime name, runtime version), e.g. ("pynetes-process", "0.1.0")."""
        ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: PodSandboxConfig
    ) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        """SIGTERM the container's processes, SIGKILL them after ``grace_period`` seconds."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def list_container_stats(self) -> list[ContainerStats]:
        """The usage of every running container (CRI ListContainerStats)."""
        ...

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float
    ) -> ExecResult: ...

    async def exec(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> StreamSession: ...

    async def attach(
        self, container_id: str, *, tty: bool, stdin: bool, stdout: bool, stderr: bool
    ) -> StreamSession: ...

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``port`` inside the sandbox's network."""
        ...

    async def reopen_container_log(self, container_id: str) -> None:
        """Start a new log file at the container's log_path (after the kubelet rotated it)."""
        ...

    def subscribe(self, handler: EventHandler) -> None:
        """Call ``handler`` on every container state change (started, exited)."""
        ...

    async def close(self) -> None:
        """Release the runtime's own resources; containers keep running."""
        ...


class ImageService(Protocol):
    """The CRI ImageService."""

    async def pull_image(self, image: str) -> str:
        """The image's reference; ``ImagePullError`` when it cannot be made runnable."""
        ...

    async def image_status(self, image: str) -> Image | None: ...

    async def list_images(self) -> list[Image]: ...

    async def remove_image(self, image: str) -> None: ...
