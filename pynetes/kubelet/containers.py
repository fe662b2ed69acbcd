"""How a pod spec's container becomes a runtime container, and when it restarts.

The labels and annotations are upstream's (``io.kubernetes.*``), so a kubelet
that restarts recognises its containers; the hash of the container spec tells
it when the spec changed (a static pod edited, an image updated) and the
container must be replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from pynetes.api.quantity import parse_json_quantity
from pynetes.kubelet.runtime.interface import (
    CONTAINER_NAME_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    POD_UID_LABEL,
    ContainerConfig,
    LinuxResources,
    Mount,
    PodSandboxConfig,
    PortMapping,
)

Object = dict[str, Any]

CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
CPU_PERIOD_US = 100_000
MIN_CPU_SHARES = 2


def pod_labels(pod: Object) -> dict[str, str]:
    meta = pod["metadata"]
    return {
        POD_NAME_LABEL: meta["name"],
        POD_NAMESPACE_LABEL: meta.get("namespace", "default"),
        POD_UID_LABEL: meta["uid"],
    }


def log_directory(pods_log_dir: Path, pod: Object) -> Path:
    """``<podLogsDir>/<namespace>_<name>_<uid>``, upstream's layout."""
    meta = pod["metadata"]
    return pods_log_dir / f"{meta.get('namespace', 'default')}_{meta['name']}_{meta['uid']}"


def sandbox_config(pod: Object, pods_log_dir: Path, attempt: int = 0) -> PodSandboxConfig:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    return PodSandboxConfig(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        uid=meta["uid"],
        attempt=attempt,
        hostname=pod_hostname(pod),
        log_directory=str(log_directory(pods_log_dir, pod)),
        host_network=bool(spec.get("hostNetwork")),
        labels=pod_labels(pod),
        annotations=dict(meta.get("annotations") or {}),
        cgroup_parent=f"pod{meta['uid']}",
        port_mappings=host_ports(pod),
    )


#: The longest host name Linux takes (HOST_NAME_MAX is 64 bytes with the terminating NUL).
HOSTNAME_MAX = 63


def pod_hostname(pod: Object) -> str:
    """``spec.hostname``, else the pod's name cut to HOSTNAME_MAX characters without a
    trailing ``-`` or ``.`` (upstream's kubelet: pod names may be 253 long)."""
    spec = pod.get("spec") or {}
    hostname = spec.get("hostname") or pod["metadata"]["name"]
    if len(hostname) <= HOSTNAME_MAX:
        return hostname
    return hostname[:HOSTNAME_MAX].rstrip("-.") or hostname[:HOSTNAME_MAX]


def host_ports(pod: Object) -> tuple[PortMapping, ...]:
    """The pod's container ports that have a ``hostPort`` (as upstream's sandbox config)."""
    return tuple(
        PortMapping(
            container_port=port["containerPort"],
            host_port=port["hostPort"],
            protocol=port.get("protocol") or "TCP",
            host_ip=port.get("hostIP") or "",
        )
        for container in (pod.get("spec") or {}).get("containers") or []
        for port in container.get("ports") or []
        if port.get("hostPort")
    )


def container_hash(container: Object) -> str:
    """A stable digest of the container's spec: it changes exactly when the spec does."""
    return hashlib.sha256(orjson.dumps(container, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def container_config(
    pod: Object,
    container: Object,
    *,
    attempt: int,
    env: Sequence[tuple[str, str]],
    command: Sequence[str],
    args: Sequence[str],
    mounts: Sequence[Mount],
) -> ContainerConfig:
    """The runtime's view of ``container``; ``command``/``args`` already expanded."""
    return ContainerConfig(
        name=container["name"],
        image=container.get("image", ""),
        attempt=attempt,
        command=tuple(command),
        args=tuple(args),
        working_dir=container.get("workingDir", ""),
        env=tuple(env),
        mounts=tuple(mounts),
        log_path=f"{container['name']}/{attempt}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        resources=linux_resources(container),
        labels={**pod_labels(pod), CONTAINER_NAME_LABEL: container["name"]},
        annotations={
            CONTAINER_HASH_ANNOTATION: container_hash(container),
            RESTART_COUNT_ANNOTATION: str(attempt),
        },
    )


def linux_resources(container: Object) -> LinuxResources:
    """cgroup settings as upstream derives them: cpu shares from the cpu request, a CFS
    quota from the cpu limit (per 100 ms period), the memory limit in bytes."""
    resources = container.get("resources") or {}
    limits: Mapping[str, Any] = resources.get("limits") or {}
    requests: Mapping[str, Any] = resources.get("requests") or {}
    cpu_request = requests.get("cpu", limits.get("cpu"))
    shares = MIN_CPU_SHARES
    if cpu_request is not None:
        shares = max(MIN_CPU_SHARES, parse_json_quantity(cpu_request).milli_value() * 1024 // 1000)
    quota = 0
    if "cpu" in limits:
        quota = max(1000, parse_json_quantity(limits["cpu"]).milli_value() * CPU_PERIOD_US // 1000)
    memory = parse_json_quantity(limits["memory"]).value() if "memory" in limits else 0
    return LinuxResources(
        cpu_period=CPU_PERIOD_US if quota else 0,
        cpu_quota=quota,
        cpu_shares=shares,
        memory_limit_in_bytes=memory,
    )


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """Whether an exited container runs again under the pod's ``restartPolicy``."""
    if restart_policy == "Always":
        return True
    return restart_policy == "OnFailure" and exit_code != 0
