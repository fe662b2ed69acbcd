"""Pods: NAME READY STATUS RESTARTS AGE; wide IP NODE NOMINATED NODE READINESS GATES.

STATUS is upstream's ``printPod`` summary, not the phase: the first init
container that has not finished says ``Init:N/M``, ``Init:<reason>`` or
``Init:ExitCode:N``; otherwise the last container with a waiting or
terminated reason wins (``CrashLoopBackOff``, ``ErrImagePull``,
``Completed``, ``OOMKilled``...); a pod being deleted is ``Terminating``
unless its phase is already terminal (1.31), or ``Unknown`` when its node
was lost. Restartable init containers (sidecars) count as containers once
started. RESTARTS adds ``(5m ago)`` from the latest container termination.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynetes.apiserver.tables import age
from pynetes.apiserver.tables.cells import (
    NONE,
    Object,
    condition_true,
    created,
    deleting,
    name,
    section,
)
from pynetes.apiserver.tables.columns import AGE, NAME, Cells, Column, Doc, Printer, core

COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last"
        " container in this pod has restarted.",
    ),
    AGE,
    Column("IP", "string", Doc(core("PodStatus"), "podIP"), 1),
    Column("Node", "string", Doc(core("PodSpec"), "nodeName"), 1),
    Column("Nominated Node", "string", Doc(core("PodStatus"), "nominatedNodeName"), 1),
    Column("Readiness Gates", "string", Doc(core("PodSpec"), "readinessGates"), 1),
)

_TERMINAL_PHASES = ("Succeeded", "Failed")
#: ``node.NodeUnreachablePodReason``: the node controller's reason for pods on a lost node.
_NODE_LOST = "NodeLost"
_COMPLETED_CONDITIONS = {
    "Succeeded": [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ],
    "Failed": [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ],
}


@dataclass
class _Restarts:
    """Restart counts and the latest termination among some containers."""

    count: int = 0
    last: datetime | None = None

    def add(self, container: Object) -> None:
        self.count += container.get("restartCount", 0)
        terminated = section(container, "lastState").get("terminated")
        if terminated is None:
            return
        finished = age.parse_timestamp(terminated.get("finishedAt"))
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished

    def cell(self, now: datetime) -> str:
        if self.count != 0 and self.last is not None:
            return f"{self.count} ({age.human_duration(now - self.last)} ago)"
        return str(self.count)


def _cells(pod: Object, now: datetime) -> Cells:
    spec, status = section(pod, "spec"), section(pod, "status")
    reason, ready, restarts = _summarize(spec, status)
    if deleting(pod) and status.get("reason") == _NODE_LOST:
        reason = "Unknown"
    elif deleting(pod) and status.get("phase") not in _TERMINAL_PHASES:
        reason = "Terminating"
    total = len(spec.get("containers") or []) + len(_sidecars(spec))
    return [
        name(pod),
        f"{ready}/{total}",
        reason,
        restarts.cell(now),
        age.since(created(pod), now),
        *_wide(spec, status),
    ]


def _sidecars(spec: Object) -> set[str]:
    """Names of the restartable init containers (``restartPolicy: Always``)."""
    return {
        container.get("name", "")
        for container in spec.get("initContainers") or []
        if container.get("restartPolicy") == "Always"
    }


def _summarize(spec: Object, status: Object) -> tuple[str, int, _Restarts]:
    """STATUS, the number of ready containers, and the restarts RESTARTS counts."""
    every, sidecars = _Restarts(), _Restarts()
    ready, init_reason = _walk_init_containers(spec, status, every, sidecars)
    reason = init_reason or _pod_reason(status)
    conditions = status.get("conditions")
    if init_reason is not None and not condition_true(conditions, "Initialized"):
        return reason, ready, every
    running = False
    for container in reversed(status.get("containerStatuses") or []):
        sidecars.add(container)
        state = section(container, "state")
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated is not None:
            reason = _termination(terminated)
        elif container.get("ready") and state.get("running") is not None:
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running" if condition_true(conditions, "Ready") else "NotReady"
    return reason, ready, sidecars


def _pod_reason(status: Object) -> str:
    reason = status.get("reason") or status.get("phase", "")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def _walk_init_containers(
    spec: Object, status: Object, every: _Restarts, sidecars: _Restarts
) -> tuple[int, str | None]:
    """Ready sidecars, and the ``Init:...`` STATUS while initialization is unfinished.

    Upstream stops at the first init container that has neither exited 0
    nor (as a sidecar) started; restarts are counted up to that container.
    """
    declared = len(spec.get("initContainers") or [])
    restartable = _sidecars(spec)
    ready = 0
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        every.add(container)
        is_sidecar = container.get("name", "") in restartable
        if is_sidecar:
            sidecars.add(container)
        state = section(container, "state")
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if is_sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            return ready, "Init:" + _termination(terminated)
        if waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            return ready, "Init:" + waiting["reason"]
        return ready, f"Init:{index}/{declared}"
    return ready, None


def _termination(terminated: Object) -> str:
    if terminated.get("reason"):
        return terminated["reason"]
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _wide(spec: Object, status: Object) -> Cells:
    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips else "") or NONE
    return [
        pod_ip,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        _readiness_gates(spec, status),
    ]


def _readiness_gates(spec: Object, status: Object) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return NONE
    conditions = status.get("conditions")
    passed = sum(condition_true(conditions, gate.get("conditionType")) for gate in gates)
    return f"{passed}/{len(gates)}"


def _conditions(pod: Object) -> list[dict[str, str]]:
    """The row conditions upstream sets for pods that ran to completion."""
    return _COMPLETED_CONDITIONS.get(section(pod, "status").get("phase", ""), [])


PRINTERS = {("", "pods"): Printer(COLUMNS, _cells, _conditions)}
