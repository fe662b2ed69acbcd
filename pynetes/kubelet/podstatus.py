"""The ``status`` a kubelet reports for a pod, from what its runtime and probes say.

A pure function of its inputs, as upstream's ``generateAPIPodStatus``: phase
(``getPhase``), the conditions the kubelet owns (PodReadyToStartContainers,
Initialized, ContainersReady, Ready), container statuses with state, lastState,
restartCount, ready and started, plus hostIP, podIP(s), startTime and qosClass.
Conditions other components own (PodScheduled, DisruptionTarget...) are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynetes.api.conditions import find_condition
from pynetes.api.meta import timestamp
from pynetes.api.pods import qos_class
from pynetes.kubelet.runtime.interface import ContainerState, ContainerStatus

Object = dict[str, Any]

#: The conditions this kubelet sets, in upstream's order.
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running (``ContainerCreating``, ``CrashLoopBackOff``...)."""

    reason: str
    message: str = ""


@dataclass
class PodView:
    """What the kubelet knows of one pod when it computes the status.

    ``containers`` maps a container name to its runtime containers, newest attempt
    first (the newest is the current state, the one before it ``lastState``).
    """

    pod: Object
    host_ip: str
    pod_ip: str = ""
    sandbox_ready: bool = False
    containers: Mapping[str, Sequence[ContainerStatus]] = field(default_factory=dict)
    waiting: Mapping[str, Waiting] = field(default_factory=dict)
    ready: Callable[[str], bool] = lambda _name: True
    started: Callable[[str], bool | None] = lambda _name: None
    container_id_prefix: str = "pynetes"
    #: A terminal phase is final: once Succeeded or Failed, it stays (upstream).
    terminal_phase: str | None = None
    #: Set on rejection at admission (phase Failed with this reason and message).
    rejected: Waiting | None = None
    #: The conditions other components set (readiness gates, DisruptionTarget...), as the
    #: API server has them now; None: those of the pod's status.
    others_conditions: list[Object] | None = None
    #: The pod's containers were stopped for good (deleted): no restart is coming, so
    #: the phase is Succeeded or Failed by exit codes whatever the restartPolicy.
    stopped_for_good: bool = False


def pod_status(view: PodView, now: datetime) -> Object:
    """The pod's whole ``status`` as the kubelet writes it."""
    spec = view.pod.get("spec") or {}
    previous = view.pod.get("status") or {}
    stamp = timestamp(now)
    status: Object = {
        "phase": "Pending",
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "startTime": previous.get("startTime") or stamp,
        "qosClass": qos_class(view.pod),
    }
    if view.rejected is not None:
        status.update(phase="Failed", reason=view.rejected.reason, message=view.rejected.message)
        status["conditions"] = _foreign_conditions(view, previous)
        return status
    if view.pod_ip:
        status["podIP"] = view.pod_ip
        status["podIPs"] = [{"ip": view.pod_ip}]
    init = [_container_status(view, c, init=True) for c in spec.get("initContainers") or ()]
    main = [_container_status(view, c, init=False) for c in spec.get("containers") or ()]
    if init:
        status["initContainerStatuses"] = init
    status["containerStatuses"] = main
    ephemeral = spec.get("ephemeralContainers") or ()
    if ephemeral:
        status["ephemeralContainerStatuses"] = [
            _container_status(view, container, init=False) for container in ephemeral
        ]
    policy = "Never" if view.stopped_for_good else spec.get("restartPolicy", "Always")
    phase = view.terminal_phase or _phase(policy, init, main)
    status["phase"] = phase
    status["conditions"] = _conditions(view, previous, phase, init, main, stamp)
    return status


def _container_status(view: PodView, container: Object, *, init: bool) -> Object:
    name = container["name"]
    attempts = view.containers.get(name) or ()
    result: Object = {
        "name": name,
        "image": container.get("image", ""),
        "imageID": "",
        "restartCount": 0,
        "ready": False,
        "started": False,
        "state": {},
        "lastState": {},
    }
    waiting = view.waiting.get(name) or Waiting("PodInitializing" if init else "ContainerCreating")
    if not attempts:
        result["state"] = {"waiting": _waiting(waiting)}
        return result
    current = attempts[0]
    result["restartCount"] = current.attempt
    result["imageID"] = current.image_ref
    result["containerID"] = f"{view.container_id_prefix}://{current.id}"
    if len(attempts) > 1:
        result["lastState"] = {"terminated": _terminated(attempts[1], view.container_id_prefix)}
    if current.state is ContainerState.RUNNING:
        started = view.started(name)
        result["started"] = True if started is None else started
        result["ready"] = bool(result["started"]) and view.ready(name)
        result["state"] = {"running": {"startedAt": _time(current.started_at)}}
    elif current.state is ContainerState.EXITED and name not in view.waiting:
        result["state"] = {"terminated": _terminated(current, view.container_id_prefix)}
    else:
        if current.state is ContainerState.EXITED:
            # Waiting to restart: the exit just seen is the last state (upstream).
            result["lastState"] = {"terminated": _terminated(current, view.container_id_prefix)}
        result["state"] = {"waiting": _waiting(waiting)}
    return result


def _waiting(waiting: Waiting) -> Object:
    out: Object = {"reason": waiting.reason}
    if waiting.message:
        out["message"] = waiting.message
    return out


def _terminated(container: ContainerStatus, prefix: str) -> Object:
    out: Object = {
        "exitCode": container.exit_code,
        "reason": container.reason or ("Completed" if container.exit_code == 0 else "Error"),
        "startedAt": _time(container.started_at),
        "finishedAt": _time(container.finished_at),
        "containerID": f"{prefix}://{container.id}",
    }
    if container.message:
        out["message"] = container.message
    return out


def _time(nanos: int) -> str | None:
    if not nanos:
        return None
    return timestamp(datetime.fromtimestamp(nanos / 1e9, UTC))


def _phase(policy: str, init: list[Object], main: list[Object]) -> str:
    """upstream getPhase."""
    for container in init:
        terminated = container["state"].get("terminated")
        if terminated is not None and terminated["exitCode"] == 0:
            continue
        failed = terminated is not None or (
            "waiting" in container["state"] and container["lastState"].get("terminated")
        )
        if failed and policy == "Never":
            return "Failed"
        return "Pending"
    waiting = running = stopped = succeeded = 0
    for container in main:
        state = container["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif container["lastState"].get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _conditions(
    view: PodView,
    previous: Object,
    phase: str,
    init: list[Object],
    main: list[Object],
    stamp: str,
) -> list[Object]:
    spec = view.pod.get("spec") or {}
    pending_init = sorted(
        c["name"] for c in init if (c["state"].get("terminated") or {}).get("exitCode") != 0
    )
    initialized = not pending_init
    not_ready = sorted(c["name"] for c in main if not c["ready"])
    containers_ready = not not_ready
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or ()]
    foreign = _foreign_conditions(view, previous)
    gates_false = [
        gate for gate in gates if (find_condition(foreign, gate) or {}).get("status") != "True"
    ]
    ready = containers_ready and not gates_false
    if phase in TERMINAL_PHASES:
        ready_reason = containers_reason = "PodCompleted"
        ready = containers_ready = False
    else:
        containers_reason = "" if containers_ready else "ContainersNotReady"
        ready_reason = "" if ready else (containers_reason or "ReadinessGatesNotReady")
    not_ready_text = f"containers with unready status: [{' '.join(not_ready)}]"
    ready_message = "" if ready or phase in TERMINAL_PHASES else not_ready_text
    if containers_ready and gates_false:
        ready_message = (
            f"corresponding condition of pod readiness gate {gates_false[0]!r} does not exist."
        )
    owned = {
        "PodReadyToStartContainers": (view.sandbox_ready, "", ""),
        "Initialized": (
            initialized,
            "" if initialized else "ContainersNotInitialized",
            "" if initialized else f"containers with incomplete status: [{' '.join(pending_init)}]",
        ),
        "Ready": (ready, ready_reason, ready_message),
        "ContainersReady": (
            containers_ready,
            containers_reason,
            "" if containers_ready or phase in TERMINAL_PHASES else not_ready_text,
        ),
    }
    conditions = foreign
    for kind in KUBELET_CONDITIONS:
        value, reason, message = owned[kind]
        conditions.append(_condition(previous, kind, value, reason, message, stamp))
    return conditions


def _foreign_conditions(view: PodView, previous: Object) -> list[Object]:
    source = view.others_conditions
    if source is None:
        source = previous.get("conditions") or []
    return [dict(c) for c in source if c.get("type") not in KUBELET_CONDITIONS]


def _condition(
    previous: Object, kind: str, value: bool, reason: str, message: str, stamp: str
) -> Object:
    text = "True" if value else "False"
    old = find_condition(previous.get("conditions"), kind)
    since = old.get("lastTransitionTime") if old and old.get("status") == text else stamp
    condition: Object = {"type": kind, "status": text, "lastProbeTime": None}
    condition["lastTransitionTime"] = since
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition
