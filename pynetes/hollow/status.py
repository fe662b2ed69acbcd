"""The objects a hollow kubelet writes, built as a real kubelet 1.31 fills them in.

Pure functions of their inputs and ``now``: the Node it registers, the
status it reports, its Lease in ``kube-node-lease``, and the status of a pod
it "runs". Addresses are fake and never reached: nodes get 127.1.0.1 and up
(loopback, so nothing off this machine can ever be hit by mistake), pods
10.0.0.1 and up.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from datetime import datetime
from typing import Any

from pynetes.api.meta import timestamp
from pynetes.api.nodes import stamp_conditions
from pynetes.hollow.spec import NodeSpec

Object = dict[str, Any]

KUBELET_VERSION = "v1.31.0-pynetes-hollow"
KUBELET_PORT = 10250
#: Marks the nodes a hollow kubelet runs (as KWOK's ``kwok.x-k8s.io/node: fake``).
HOLLOW_ANNOTATION = "pynetes.io/hollow-node"
FIRST_NODE_ADDRESS = ipaddress.IPv4Address("127.1.0.1")
FIRST_POD_ADDRESS = ipaddress.IPv4Address("10.0.0.1")

#: (type, status, reason, message) in the order the kubelet lists its node conditions.
_NODE_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)  # fmt: skip
#: The pod conditions of a running pod, in the kubelet's order (PodScheduled is the binder's).
_RUNNING_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def node_address(index: int) -> str:
    """The fake InternalIP of the ``index``-th node (127.1.0.1, 127.1.0.2, ...)."""
    return str(FIRST_NODE_ADDRESS + index)


def node_object(spec: NodeSpec, address: str, now: datetime) -> Object:
    """The Node a kubelet registers: labels, taints, and its whole status at once."""
    node_spec: Object = {}
    if spec.taints:
        node_spec["taints"] = [taint.to_dict() for taint in spec.taints]
    if spec.unschedulable:
        node_spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": spec.node_labels(),
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                HOLLOW_ANNOTATION: "true",
            },
        },
        "spec": node_spec,
        "status": node_status(spec, address, now),
    }


def node_status(
    spec: NodeSpec, address: str, now: datetime, previous: list[Object] | None = None
) -> Object:
    """A healthy node's status; ``previous`` conditions keep their lastTransitionTime
    where their status is unchanged, as the kubelet keeps them."""
    capacity = spec.capacity()
    return {
        "capacity": capacity,
        "allocatable": dict(capacity),
        "conditions": node_conditions(now, previous),
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": spec.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": _node_info(spec),
    }


#: The Ready condition of a node told to report not ready (a runtime that is down).
_NOT_READY = ("Ready", "False", "KubeletNotReady", "container runtime is down")


def node_conditions(
    now: datetime, previous: list[Object] | None = None, *, ready: bool = True
) -> list[Object]:
    """The four conditions, heartbeat ``now``; transitions kept from ``previous``.

    ``ready`` False reports Ready=False (KubeletNotReady), as a kubelet whose
    runtime is down does.
    """
    return stamp_conditions(
        _NODE_CONDITIONS if ready else (*_NODE_CONDITIONS[:-1], _NOT_READY), now, previous
    )


def _node_info(spec: NodeSpec) -> Object:
    identity = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{spec.name}.hollow.pynetes.invalid"))
    return {
        "machineID": identity.replace("-", ""),
        "systemUUID": identity,
        "bootID": identity,
        "kernelVersion": "6.1.0-pynetes-hollow",
        "osImage": "pynetes hollow node",
        "containerRuntimeVersion": "hollow://1.31.0",
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": KUBELET_VERSION,
        "operatingSystem": "linux",
        "architecture": spec.arch,
    }


def is_running(pod: Object) -> bool:
    """Whether the pod's status already says it runs (or ran) on its node."""
    return (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed")


def running_pod_status(pod: Object, host_ip: str, pod_ip: str, now: datetime) -> Object:
    """The status a kubelet reports once every container of ``pod`` started and is ready.

    Init containers ran to completion (sidecars, ``restartPolicy: Always``,
    still run); PodScheduled keeps the time the binder set.
    """
    stamp = timestamp(now)
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid", "")
    scheduled = next(
        (
            condition
            for condition in (pod.get("status") or {}).get("conditions") or []
            if condition.get("type") == "PodScheduled"
        ),
        {"lastTransitionTime": stamp},
    )
    conditions = [_true_condition(kind, stamp) for kind in _RUNNING_POD_CONDITIONS]
    conditions.append(_true_condition("PodScheduled", scheduled.get("lastTransitionTime") or stamp))
    status: Object = {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": stamp,
        "containerStatuses": [
            _container_status(container, uid, stamp, running=True)
            for container in spec.get("containers") or []
        ],
    }
    init = spec.get("initContainers") or []
    if init:
        status["initContainerStatuses"] = [
            # sidecars (restartPolicy Always) keep running; the others ran to completion
            _container_status(
                container, uid, stamp, running=container.get("restartPolicy") == "Always"
            )
            for container in init
        ]
    return status


def _true_condition(kind: str, since: str) -> Object:
    return {"type": kind, "status": "True", "lastTransitionTime": since}


def _container_status(container: Object, pod_uid: str, stamp: str, *, running: bool) -> Object:
    name = container.get("name", "")
    image = container.get("image", "")
    state: Object = (
        {"running": {"startedAt": stamp}}
        if running
        else {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": stamp,
                "finishedAt": stamp,
                "containerID": _container_id(pod_uid, name),
            }
        }
    )
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return {
        "name": name,
        "state": state,
        "lastState": {},
        "ready": running,
        "restartCount": 0,
        "image": image,
        "imageID": f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": _container_id(pod_uid, name),
        "started": running,
    }


def _container_id(pod_uid: str, name: str) -> str:
    return "hollow://" + hashlib.sha256(f"{pod_uid}/{name}".encode()).hexdigest()


class PodAddresses:
    """Fake pod IPs, unique among the pods that hold one: 10.0.0.1 and up, reused once freed.

    Keyed by pod UID, so asking twice for one pod gives its address again.
    """

    def __init__(self) -> None:
        self._by_uid: dict[str, str] = {}
        self._taken: set[str] = set()
        self._free: list[str] = []
        self._next = 0

    def assign(self, uid: str) -> str:
        """The pod's address, allocated on first request."""
        address = self._by_uid.get(uid)
        if address is not None:
            return address
        address = self._free.pop() if self._free else self._fresh()
        self._by_uid[uid] = address
        self._taken.add(address)
        return address

    def adopt(self, uid: str, address: str) -> None:
        """Record an address a pod already reports (a restarted runner's pods)."""
        if uid not in self._by_uid and address not in self._taken:
            self._by_uid[uid] = address
            self._taken.add(address)

    def release(self, uid: str) -> None:
        address = self._by_uid.pop(uid, None)
        if address is not None:
            self._taken.discard(address)
            self._free.append(address)

    def __len__(self) -> int:
        return len(self._by_uid)

    def _fresh(self) -> str:
        while True:
            address = str(FIRST_POD_ADDRESS + self._next)
            self._next += 1
            if address not in self._taken:
                return address
