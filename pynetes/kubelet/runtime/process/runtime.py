"""ProcessRuntime: the CRI RuntimeService and ImageService over plain host processes.

One class serves both protocols. A sandbox is a JSON record. Given CNI options (and run
as root, with the plugins installed), a sandbox without hostNetwork gets a network
namespace of its own set up by the CNI plugins (cni.py); its IP is the CNI result's,
every container and exec'd command runs in that namespace, and stop/remove run CNI DEL
and remove the namespace. Until the folder has a network configuration such a sandbox
is refused (NetworkNotReady). Without CNI options, root or the plugins (and for
hostNetwork pods) the pod shares the host network and its IP is the node's; the
reason is logged once. A container is a folder under ``state_dir/containers``
holding ``config.json`` (written at create; ``shim.config`` is the same for the shim),
``started.json`` and ``exited.json`` (written by its shim, see shim.py). The shim runs
in a session of its own, so containers and their logs survive the kubelet; a new
ProcessRuntime on the same state_dir adopts them: it reports running ones RUNNING (a
shim counts as running only when its pid's start time is the recorded one, so a reused
pid is not mistaken for it) and exited ones with the exit code their shim recorded. It
never starts anything on its own.

Each shim is watched through a pidfd in the event loop (one fd per running container);
its exit is the container's, reported to ``subscribe``rs.

Mounts need a private mount namespace: as root one is made with unshare(CLONE_NEWNS);
otherwise an unprivileged user namespace is tried. Where neither is allowed, a
container with mounts fails to start (reason StartError, the error in its message):
running it without its volumes would be silently wrong. Note that a mount point that
does not exist is created on the host's filesystem (there is no container root).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import json
import logging
import marshal
import os
import pty
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pynetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerNotFound,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    EventHandler,
    ExecResult,
    Image,
    NetworkNotReady,
    PodSandboxConfig,
    PodSandboxStatus,
    RuntimeFailure,
    SandboxState,
    StreamSession,
)
from pynetes.kubelet.runtime.process import cni, shim, stats
from pynetes.kubelet.runtime.process.cgroups import DEFAULT_ROOT, Cgroups
from pynetes.kubelet.runtime.process.images import ImageCatalog, image_id, normalize
from pynetes.kubelet.runtime.process.records import ContainerRecord, read_json, write_json
from pynetes.kubelet.runtime.process.shim import process_start_time
from pynetes.kubelet.runtime.process.streams import (
    AttachSession,
    PipeSession,
    TtySession,
    exit_code,
    kill_group,
    shim_request,
)

log = logging.getLogger(__name__)
RUNTIME_NAME = "pynetes-process"
RUNTIME_VERSION = "0.1.0"
SHIM = Path(shim.__file__)
#: Docker's default PATH, for containers whose env sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: How long a killed container may take to be reported exited before stop gives up.
KILL_TIMEOUT = 30.0


class StartContainerError(RuntimeFailure):
    """The container's process could not be started (its exec failed)."""

    reason = "RunContainerError"


class ProcessRuntime:
    """RuntimeService and ImageService running each container as a host process group."""

    def __init__(
        self,
        state_dir: Path,
        *,
        node_ip: str = "127.0.0.1",
        images: ImageCatalog,
        cgroup_root: Path | None = DEFAULT_ROOT,
        cni_options: cni.CniOptions | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.node_ip = node_ip
        self.images = images
        self.cgroups = Cgroups(cgroup_root)
        self.cni_options = cni_options
        self._host_network_reason: str | None = None
        #: One teardown at a time per sandbox (the start-up recovery and the kubelet's
        #: removal of the same orphan may overlap).
        self._teardowns: dict[str, asyncio.Lock] = {}
        self._sandbox_dir = state_dir / "sandboxes"
        self._container_dir = state_dir / "containers"
        self._sandbox_dir.mkdir(parents=True, exist_ok=True)
        self._container_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes: dict[str, dict[str, Any]] = {
            path.stem: json.loads(path.read_text()) for path in self._sandbox_dir.glob("*.json")
        }
        self._containers: dict[str, ContainerRecord] = {}
        self._handlers: list[EventHandler] = []
        self._watched: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pulled: dict[str, Image] = {}
        self._adopted = False
        for directory in self._container_dir.iterdir():
            container = ContainerRecord.load(directory)
            if container is not None:
                self._containers[container.id] = container

    # -- records ---------------------------------------------------------------------

    def _adopt(self) -> None:
        """Watch the shims of containers that ran before this runtime (once, in the loop)."""
        if self._adopted:
            return
        self._adopted = True
        for container in self._containers.values():
            if container.state is ContainerState.RUNNING:
                self._watch(container)
        if any(_needs_recovery(record) for record in self._sandboxes.values()):
            task = asyncio.get_running_loop().create_task(self._recover_networks())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _recover_networks(self) -> None:
        """Tears down the networks a previous runtime left half made (killed during
        setup) or whose namespace is gone (a reboot): their IPs go back to IPAM."""
        for record in list(self._sandboxes.values()):
            if _needs_recovery(record):
                try:
                    await self._teardown_network(record)
                except cni.CniError as error:
                    log.warning("cleaning up the network of sandbox %s: %s", record["id"], error)

    def _watch(self, container: ContainerRecord) -> None:
        """Report the container exited when its shim exits (a pidfd in the event loop)."""
        started = container.started or {}
        try:
            pidfd = os.pidfd_open(started["shim_pid"])
        except OSError:
            self._on_shim_exit(container)
            return
        try:
            alive = process_start_time(started["shim_pid"]) == started["shim_start"]
        except OSError:
            alive = False
        if not alive:
            os.close(pidfd)
            self._on_shim_exit(container)
            return
        self._watched[container.id] = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._on_shim_exit, container)

    def _on_shim_exit(self, container: ContainerRecord) -> None:
        pidfd = self._watched.pop(container.id, None)
        if pidfd is not None:
            asyncio.get_running_loop().remove_reader(pidfd)
            os.close(pidfd)
        if container.shim is not None:
            container.shim.wait()
        container.exited = read_json(container.directory / "exited.json")
        if container.exited is None:
            # The shim was killed: nothing copies the container's output or sees its exit
            # any more, so the container is ended too, and recorded so.
            self._signal(container, signal.SIGKILL)
            container.exited = {
                "exit_code": 255,
                "finished_at": time.time_ns(),
                "reason": "Error",
                "message": "the container's shim died; the container was killed",
            }
            write_json(container.directory / "exited.json", container.exited)
        container.exit_seen.set()
        self._emit(container)

    def _emit(self, container: ContainerRecord) -> None:
        event = container.event()
        for handler in self._handlers:
            result = handler(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _container(self, container_id: str) -> ContainerRecord:
        self._adopt()
        container = self._containers.get(container_id)
        if container is None:
            raise ContainerNotFound(f"container {container_id!r} not found")
        return container

    def _sandbox(self, sandbox_id: str) -> dict[str, Any]:
        self._adopt()
        record = self._sandboxes.get(sandbox_id)
        if record is None:
            raise ContainerNotFound(f"pod sandbox {sandbox_id!r} not found")
        return record

    def _save_sandbox(self, record: dict[str, Any]) -> None:
        write_json(self._sandbox_dir / f"{record['id']}.json", record)

    # -- RuntimeService: sandboxes ------------------------------------------------------

    async def version(self) -> tuple[str, str]:
        return RUNTIME_NAME, RUNTIME_VERSION

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        """A sandbox; with pod networking (see the module) its namespace is set up
        before this returns (RuntimeFailure when the plugins fail: nothing is left)."""
        self._adopt()
        sandbox_id = secrets.token_hex(32)
        record: dict[str, Any] = {
            "id": sandbox_id,
            "config": {
                **asdict(config),
                "labels": dict(config.labels),
                "annotations": dict(config.annotations),
            },
            "state": SandboxState.READY.value,
            "created_at": time.time_ns(),
        }
        network = None if config.host_network else self._network_config()
        if network is not None:
            record["network"] = {
                "netns": cni.netns_name(sandbox_id),
                "config": network,
                "bin_dir": str(self.cni_options.bin_dir),
                "port_mappings": [
                    cni.port_mapping(m.host_port, m.container_port, m.protocol, m.host_ip)
                    for m in config.port_mappings
                ],
                "ready": False,
            }
        # Saved before anything is set up, so that a runtime killed meanwhile finds it.
        self._save_sandbox(record)
        self._sandboxes[sandbox_id] = record
        if network is not None:
            try:
                await self._setup_network(record)
            except cni.CniError as error:
                # The spec's rule: a failed ADD is followed by a DEL; nothing stays.
                with contextlib.suppress(cni.CniError):
                    await self._teardown_network(record)
                with contextlib.suppress(cni.CniError):
                    await cni.delete_netns(record["network"]["netns"])
                (self._sandbox_dir / f"{sandbox_id}.json").unlink()
                del self._sandboxes[sandbox_id]
                self._teardowns.pop(sandbox_id, None)
                raise RuntimeFailure(f"setting up the pod's network: {error}") from error
        return sandbox_id

    def _network_config(self) -> dict[str, Any] | None:
        """The CNI network list new sandboxes get, or None where pod networking cannot
        work (host network; why is logged once). NetworkNotReady while it can but has no
        configuration yet (the node has no podCIDR), as containerd's "cni plugin not
        initialized": the kubelet retries, so whether a pod gets a network of its own
        does not depend on how early it was created."""
        if self.cni_options is None:
            return None
        reason = cni.unavailable(self.cni_options)
        if reason is not None:
            if reason != self._host_network_reason:
                log.warning("pods share the host network: %s", reason)
            self._host_network_reason = reason
            return None
        network = cni.load_network(self.cni_options.conf_dir)
        if network is None:
            raise NetworkNotReady(
                "container runtime network not ready: NetworkReady=false"
                " reason:NetworkPluginNotReady message:Network plugin returns error:"
                f" cni plugin not initialized (no network configuration in"
                f" {self.cni_options.conf_dir})"
            )
        return network

    async def _setup_network(self, record: dict[str, Any]) -> None:
        network = record["network"]
        path = await cni.create_netns(network["netns"])
        result = await cni.CniPlugins(Path(network["bin_dir"])).add(
            network["config"], record["id"], path, network["port_mappings"]
        )
        network.update(path=path, result=result, ip=cni.result_ip(result), ready=True)
        self._save_sandbox(record)

    async def _teardown_network(self, record: dict[str, Any]) -> None:
        """CNI DEL (with the ADD result) and the namespace's removal; once only. DEL
        runs even when the namespace is gone, so that IPAM releases the address."""
        lock = self._teardowns.setdefault(record["id"], asyncio.Lock())
        async with lock:
            await self._teardown_network_once(record)

    async def _teardown_network_once(self, record: dict[str, Any]) -> None:
        network = record.get("network")
        if network is None or network.get("down"):
            return
        await cni.CniPlugins(Path(network["bin_dir"])).delete(
            network["config"],
            record["id"],
            cni.existing_netns(network["netns"]),
            network["port_mappings"],
            network.get("result"),
        )
        await cni.delete_netns(network["netns"])
        network["down"] = True
        self._save_sandbox(record)

    async def update_runtime_config(self, pod_cidr: str) -> None:
        """The node's podCIDR (CRI UpdateRuntimeConfig): writes the default network
        configuration when the CNI folder has none and pod networking is possible."""
        if self.cni_options is None or cni.unavailable(self.cni_options) is not None:
            return
        if await asyncio.to_thread(cni.write_default_conflist, self.cni_options, pod_cidr):
            log.info("wrote the default CNI configuration for podCIDR %s", pod_cidr)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Kills the sandbox's running containers (the kubelet stopped them gracefully
        before), marks it not ready and releases its network and cgroups (a stopped
        sandbox runs nothing again: the kubelet makes a new one); a sandbox already
        removed is no error (as CRI)."""
        self._adopt()
        record = self._sandboxes.get(sandbox_id)
        if record is None:
            return
        containers = [
            container
            for container in list(self._containers.values())
            if container.config["sandbox_id"] == sandbox_id
        ]
        await asyncio.gather(*(self.stop_container(container.id, 0) for container in containers))
        record["state"] = SandboxState.NOTREADY.value
        self._save_sandbox(record)
        await self._teardown_or_fail(record)
        parent = _cgroup_parent(record["config"])
        for container in containers:
            self.cgroups.remove(parent, container.id)
        self.cgroups.remove_parent(parent)

    async def _teardown_or_fail(self, record: dict[str, Any]) -> None:
        try:
            await self._teardown_network(record)
        except cni.CniError as error:
            raise RuntimeFailure(f"tearing down the pod's network: {error}") from error

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        record = self._sandboxes.get(sandbox_id)
        if record is None:
            return
        for container in list(self._containers.values()):
            if container.config["sandbox_id"] == sandbox_id:
                await self.remove_container(container.id)
        await self._teardown_or_fail(record)
        self.cgroups.remove_parent(_cgroup_parent(record["config"]))
        with contextlib.suppress(FileNotFoundError):
            (self._sandbox_dir / f"{sandbox_id}.json").unlink()
        del self._sandboxes[sandbox_id]
        self._teardowns.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox_status(self._sandbox(sandbox_id))

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        self._adopt()
        return [self._sandbox_status(record) for record in self._sandboxes.values()]

    def _sandbox_status(self, record: dict[str, Any]) -> PodSandboxStatus:
        config = record["config"]
        return PodSandboxStatus(
            id=record["id"],
            name=config["name"],
            namespace=config["namespace"],
            uid=config["uid"],
            attempt=config["attempt"],
            state=SandboxState(record["state"]),
            created_at=record["created_at"],
            ip=_sandbox_ip(record) or self.node_ip,
            labels=config["labels"],
            annotations=config["annotations"],
        )

    # -- RuntimeService: containers ------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: PodSandboxConfig
    ) -> str:
        """Resolves the command (ImagePullError for an unknown image without a command),
        makes the cgroups and writes the record; nothing runs until start_container."""
        sandbox_record = self._sandbox(sandbox_id)
        if sandbox_record["state"] != SandboxState.READY.value:
            raise RuntimeFailure(f"pod sandbox {sandbox_id} is not ready")
        argv = self.images.command(config.image, config.command, config.args)
        image = self.images.lookup(config.image)
        container_id = secrets.token_hex(32)
        directory = self._container_dir / container_id
        parent = _cgroup_parent(asdict(sandbox))
        try:
            cgroups = self.cgroups.create(parent, container_id, config.resources)
        except OSError as error:
            self.cgroups.remove(parent, container_id)
            raise RuntimeFailure(f"setting up the container's cgroups: {error}") from error
        log_path = (
            str(Path(sandbox.log_directory) / config.log_path)
            if sandbox.log_directory and config.log_path
            else os.devnull
        )
        env = dict(config.env)
        env.setdefault("PATH", DEFAULT_PATH)
        env.setdefault("HOSTNAME", sandbox.hostname or sandbox.name)
        env.setdefault("HOME", "/root")
        record = {
            "id": container_id,
            "sandbox_id": sandbox_id,
            "pod_uid": sandbox.uid,
            "cgroup_parent": parent,
            "name": config.name,
            "attempt": config.attempt,
            "image": config.image,
            "image_ref": image.id if image is not None else normalize(config.image),
            "created_at": time.time_ns(),
            "labels": dict(config.labels),
            "annotations": dict(config.annotations),
            "argv": argv,
            "env": list(env.items()),
            "cwd": config.working_dir or "/",
            "log_path": log_path,
            "stdin": config.stdin,
            "stdin_once": config.stdin_once,
            "tty": config.tty,
            "mounts": [asdict(mount) for mount in config.mounts],
            "cgroups": [str(folder) for folder in cgroups],
            "socket": f"pynetes-shim/{container_id}",
            "netns": (sandbox_record.get("network") or {}).get("path", ""),
            "hostname": sandbox.hostname or sandbox.name,
        }
        directory.mkdir()
        (directory / "shim.config").write_bytes(marshal.dumps(record))
        write_json(directory / "config.json", record)
        self._containers[container_id] = ContainerRecord(directory, record)
        return container_id

    async def start_container(self, container_id: str) -> None:
        """Starts the container's shim and returns once the container's process runs
        (StartContainerError when its exec failed: the container is then EXITED with
        exit code 128, reason StartError)."""
        container = self._container(container_id)
        if container.state is not ContainerState.CREATED:
            raise RuntimeFailure(f"container {container_id} is {container.state.value}")
        answer = await _read_until_eof(self._spawn_shim(container))
        if answer == b"ok":
            container.started = read_json(container.directory / "started.json")
            self._emit(container)
            self._watch(container)
            return
        container.shim.wait()
        container.exited = read_json(container.directory / "exited.json")
        if container.exited is None:
            tail = (container.directory / "shim.log").read_text(errors="replace")[-2000:]
            container.exited = {
                "exit_code": 128,
                "finished_at": time.time_ns(),
                "reason": "StartError",
                "message": f"the shim failed: {tail}",
            }
        container.exit_seen.set()
        self._emit(container)
        raise StartContainerError(container.exited["message"])

    @staticmethod
    def _spawn_shim(container: ContainerRecord) -> int:
        """Forks the shim (a fork/exec: quick enough for the loop) in a session of its
        own; returns the read end of the pipe it answers on."""
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        try:
            with open(container.directory / "shim.log", "ab") as shim_log:
                container.shim = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(SHIM), str(container.directory), str(sync_w)],
                    pass_fds=(sync_w,),
                    start_new_session=True,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=shim_log,
                )
        finally:
            os.close(sync_w)
        return sync_r

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        container = self._container(container_id)
        if container.state is not ContainerState.RUNNING:
            return
        if grace_period > 0:
            self._signal(container, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(container.exit_seen.wait(), grace_period)
        if not container.exit_seen.is_set():
            self._signal(container, signal.SIGKILL)
            try:
                await asyncio.wait_for(container.exit_seen.wait(), KILL_TIMEOUT)
            except TimeoutError as error:
                message = f"container {container_id} did not exit after SIGKILL"
                raise RuntimeFailure(message) from error

    def _signal(self, container: ContainerRecord, number: signal.Signals) -> None:
        """Signal the container's process group, unless its leader is gone (then the pid
        may belong to someone else; the shim kills what is left); SIGKILL also goes to
        every process in the container's cgroups."""
        started = container.started or {}
        pid = started["pid"]
        try:
            if process_start_time(pid) == started["pid_start"]:
                os.killpg(pid, number)
        except OSError as error:
            if error.errno not in (errno.ESRCH, errno.ENOENT):
                raise
        if number == signal.SIGKILL:
            for folder in container.config["cgroups"]:
                with contextlib.suppress(OSError):
                    for line in (Path(folder) / "cgroup.procs").read_text().split():
                        os.kill(int(line), signal.SIGKILL)

    async def remove_container(self, container_id: str) -> None:
        """Kills the container if it runs, then forgets it and removes its cgroups (its
        log file stays: removing logs is the kubelet's job)."""
        container = self._containers.get(container_id)
        if container is None:
            return
        await self.stop_container(container_id, 0)
        self.cgroups.remove(container.config["cgroup_parent"], container_id)
        shutil.rmtree(container.directory, ignore_errors=True)
        del self._containers[container_id]

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._container(container_id).status()

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        self._adopt()
        return [
            container.status()
            for container in self._containers.values()
            if sandbox_id is None or container.config["sandbox_id"] == sandbox_id
        ]

    async def list_container_stats(self) -> list[ContainerStats]:
        self._adopt()
        running = [c for c in self._containers.values() if c.state is ContainerState.RUNNING]
        return await asyncio.to_thread(_read_stats, running)

    # -- RuntimeService: streams ---------------------------------------------------------

    def _running(self, container_id: str) -> ContainerRecord:
        container = self._container(container_id)
        if container.state is not ContainerState.RUNNING:
            raise RuntimeFailure(f"container {container_id} is not running")
        return container

    def _exec_argv(
        self, container: ContainerRecord, command: Sequence[str], tty: bool
    ) -> list[str]:
        """``command`` run as the container's processes are: in its cgroups before it
        starts, in its mount namespace (when it has one) and working dir; with a TTY, in a
        session whose terminal it is."""
        if not command:
            raise RuntimeFailure("exec needs a command")
        config = container.config
        prefix = ["setsid", "--ctty"] if tty else []
        joins = [f"echo 0 > {shlex.quote(folder)}/cgroup.procs" for folder in config["cgroups"]]
        if joins:
            # A shell joins the cgroups (0 = the writer itself), then becomes the command.
            prefix += ["sh", "-c", " && ".join([*joins, 'exec "$@"']), "sh"]
        pid = (container.started or {}).get("pid")
        namespaces = []
        if config.get("netns"):
            namespaces.append(f"--net={config['netns']}")
            if config.get("hostname"):  # the container's own UTS namespace (shim.py)
                namespaces.append(f"--uts=/proc/{pid}/ns/uts")
        if config["mounts"]:
            namespaces += [f"--mount=/proc/{pid}/ns/mnt", f"--wd={config['cwd']}"]
        if namespaces:
            prefix += ["nsenter", *namespaces, "--"]
        return [*prefix, *command]

    async def _spawn(
        self, container: ContainerRecord, argv: list[str], **streams: Any
    ) -> asyncio.subprocess.Process:
        config = container.config
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(config["env"]),
                cwd="/" if config["mounts"] else config["cwd"],
                **streams,
            )
        except OSError as error:
            raise RuntimeFailure(f"exec {argv[0]!r}: {error}") from error
        return process

    async def exec_sync(
        self, container_id: str, command: Sequence[str], time_limit: float
    ) -> ExecResult:
        """Runs ``command`` to its end; after ``time_limit`` seconds (0 = none) it is
        killed and the result says ``timed_out``."""
        container = self._running(container_id)
        process = await self._spawn(
            container,
            self._exec_argv(container, command, tty=False),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit or None)
        except TimeoutError:
            kill_group(process.pid)
            await process.wait()
            killed = 128 + signal.SIGKILL
            return ExecResult(exit_code=killed, stdout=b"", stderr=b"", timed_out=True)
        return ExecResult(exit_code=exit_code(process.returncode), stdout=stdout, stderr=stderr)

    async def exec(
        self,
        container_id: str,
        command: Sequence[str],
        *,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> StreamSession:
        container = self._running(container_id)
        argv = self._exec_argv(container, command, tty=tty)
        if not tty:
            pipe, none = subprocess.PIPE, subprocess.DEVNULL
            process = await self._spawn(
                container,
                argv,
                stdin=pipe if stdin else none,
                stdout=pipe if stdout else none,
                stderr=pipe if stderr else none,
                start_new_session=True,
            )
            return PipeSession(process)
        master, slave = pty.openpty()
        try:
            process = await self._spawn(container, argv, stdin=slave, stdout=slave, stderr=slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return TtySession(process, master, stdin)

    async def attach(
        self, container_id: str, *, tty: bool, stdin: bool, stdout: bool, stderr: bool
    ) -> StreamSession:
        container = self._running(container_id)
        config = container.config
        try:
            return await AttachSession.connect(
                config["socket"],
                stdin=stdin and config["stdin"],
                stdout=stdout,
                stderr=stderr,
                tty=config["tty"],
            )
        except OSError as error:
            raise RuntimeFailure(f"attaching to container {container_id}: {error}") from error

    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the pod's IP (the node's when it shares the host network)."""
        record = self._sandbox(sandbox_id)
        return await asyncio.open_connection(_sandbox_ip(record) or self.node_ip, port)

    async def reopen_container_log(self, container_id: str) -> None:
        container = self._running(container_id)
        try:
            await shim_request(container.config["socket"], shim.REOPEN)
        except (OSError, asyncio.IncompleteReadError) as error:
            raise RuntimeFailure(f"reopening the log of {container_id}: {error}") from error

    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def close(self) -> None:
        """Stops watching shims; containers and shims keep running."""
        for pidfd in self._watched.values():
            asyncio.get_running_loop().remove_reader(pidfd)
            os.close(pidfd)
        self._watched.clear()
        self._adopted = False

    # -- ImageService -----------------------------------------------------------------

    async def pull_image(self, image: str) -> str:
        """The catalog's image id; a name the catalog lacks is "pulled" as a bare
        reference (a container of it then needs a command, checked at create)."""
        found = self.images.lookup(image)
        if found is not None:
            return found.id
        reference = normalize(image)
        image_entry = Image(id=image_id(reference), entrypoint=(), repo_tags=(reference,))
        self._pulled[reference] = image_entry
        return reference

    async def image_status(self, image: str) -> Image | None:
        return self.images.lookup(image) or self._pulled.get(normalize(image))

    async def list_images(self) -> list[Image]:
        concrete = [
            image
            for entry in self.images.entries
            if not any(char in entry.pattern for char in "*?[")
            and (image := self.images.lookup(entry.pattern)) is not None
        ]
        return [*concrete, *self._pulled.values()]

    async def remove_image(self, image: str) -> None:
        """Forgets a pulled reference; catalog images cannot be removed."""
        self._pulled.pop(normalize(image), None)


def _sandbox_ip(record: dict[str, Any]) -> str:
    """The IP of the sandbox's own network namespace ("" when it has none)."""
    network = record.get("network") or {}
    return "" if network.get("down") else network.get("ip", "")


def _needs_recovery(record: dict[str, Any]) -> bool:
    """A network set up only partly, or whose namespace is gone, and not torn down."""
    network = record.get("network")
    if network is None or network.get("down"):
        return False
    return not network.get("ready") or not (cni.NETNS_DIR / network["netns"]).exists()


def _read_stats(containers: list[ContainerRecord]) -> list[ContainerStats]:
    """Each container's usage (see ``stats``): its processes are its memory cgroup's,
    or without cgroups its process group, while its leader is the process it started."""
    groups: dict[int, list[int]] | None = None
    found = []
    for container in containers:
        started = container.started or {}
        memory = next((Path(f) for f in container.config["cgroups"] if "/memory/" in f), None)
        if memory is not None:
            pids = stats.cgroup_pids(memory)
        elif process_start_time(started["pid"]) == started["pid_start"]:
            groups = stats.process_groups() if groups is None else groups
            pids = groups.get(started["pid"], [])
        else:
            pids = []
        working_set = stats.cgroup_working_set(memory) if memory is not None else None
        found.append(
            ContainerStats(
                id=container.id,
                labels=container.config["labels"],
                timestamp=time.time_ns(),
                cpu_usage_core_nanoseconds=stats.cpu_nanoseconds(pids),
                memory_working_set_bytes=(
                    stats.resident_bytes(pids) if working_set is None else working_set
                ),
            )
        )
    return found


def _cgroup_parent(sandbox: dict[str, Any]) -> str:
    return sandbox.get("cgroup_parent") or f"pynetes/{sandbox['uid']}"


async def _read_until_eof(fd: int) -> bytes:
    """All a pipe's writer writes, without blocking the loop; closes ``fd``."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    chunks: list[bytes] = []
    os.set_blocking(fd, False)

    def on_readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            chunks.append(chunk)
            return
        loop.remove_reader(fd)
        done.set_result(b"".join(chunks))

    loop.add_reader(fd, on_readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
