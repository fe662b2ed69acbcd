"""What a hollow kubelet writes: the Node, its conditions, its Lease, a running pod's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynetes.api.nodes import lease_object
from pynetes.hollow.spec import NodeSpec, Taint
from pynetes.hollow.status import (
    KUBELET_VERSION,
    PodAddresses,
    is_running,
    node_address,
    node_conditions,
    node_object,
    running_pod_status,
)

NOW = datetime(2024, 8, 13, 10, 0, 0, 123456, tzinfo=UTC)


def test_node_addresses_are_loopback_and_distinct() -> None:
    assert node_address(0) == "127.1.0.1"
    assert node_address(255) == "127.1.1.0"
    assert len({node_address(index) for index in range(70_000)}) == 70_000


def test_node_object_as_a_kubelet_registers_it() -> None:
    spec = NodeSpec("n", taints=[Taint("k", "NoSchedule", "v")], unschedulable=True, zone="a")
    node = node_object(spec, "127.1.0.1", NOW)
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n"
    assert node["spec"] == {
        "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
        "unschedulable": True,
    }
    status = node["status"]
    assert status["capacity"] == status["allocatable"]
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "127.1.0.1"},
        {"type": "Hostname", "address": "n"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == KUBELET_VERSION == "v1.31.0-pynetes-hollow"
    assert status["nodeInfo"]["operatingSystem"] == "linux"
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert {c["lastHeartbeatTime"] for c in status["conditions"]} == {"2024-08-13T10:00:00Z"}


def test_a_node_without_taints_has_an_empty_spec() -> None:
    assert node_object(NodeSpec("n"), "127.1.0.1", NOW)["spec"] == {}


def test_heartbeats_keep_the_transition_time_of_an_unchanged_condition() -> None:
    first = node_conditions(NOW)
    first[-1] = {**first[-1], "status": "Unknown"}  # Ready went Unknown meanwhile
    later = node_conditions(NOW + timedelta(minutes=5), first)
    assert {c["lastHeartbeatTime"] for c in later} == {"2024-08-13T10:05:00Z"}
    transitions = {c["type"]: c["lastTransitionTime"] for c in later}
    assert transitions["MemoryPressure"] == "2024-08-13T10:00:00Z"
    assert transitions["Ready"] == "2024-08-13T10:05:00Z"


def test_lease_is_held_by_and_owned_by_the_node() -> None:
    lease = lease_object("n", "uid-1", NOW)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "uid-1"}
    ]
    assert lease["spec"] == {
        "holderIdentity": "n",
        "leaseDurationSeconds": 40,
        "renewTime": "2024-08-13T10:00:00.123456Z",
    }


def bound_pod(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "nginx:1.25"}], **spec},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                }
            ],
        },
    }


def test_running_pod_status() -> None:
    pod = bound_pod()
    assert not is_running(pod)
    status = running_pod_status(pod, "127.1.0.1", "10.0.0.7", NOW)
    assert is_running({"status": status})
    assert status["phase"] == "Running"
    assert (status["hostIP"], status["podIP"]) == ("127.1.0.1", "10.0.0.7")
    assert status["podIPs"] == [{"ip": "10.0.0.7"}]
    assert status["startTime"] == "2024-08-13T10:00:00Z"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert set(conditions) == {
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"
    }  # fmt: skip
    assert {c["status"] for c in conditions.values()} == {"True"}
    assert conditions["PodScheduled"]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    assert conditions["Ready"]["lastTransitionTime"] == "2024-08-13T10:00:00Z"
    (container,) = status["containerStatuses"]
    assert container["state"] == {"running": {"startedAt": "2024-08-13T10:00:00Z"}}
    assert (container["ready"], container["restartCount"], container["started"]) == (True, 0, True)
    assert container["image"] == "nginx:1.25"
    assert container["imageID"].startswith("nginx@sha256:")
    assert "initContainerStatuses" not in status


def test_init_containers_completed_and_sidecars_running() -> None:
    pod = bound_pod(
        initContainers=[
            {"name": "setup", "image": "busybox"},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
        ]
    )
    setup, proxy = running_pod_status(pod, "127.1.0.1", "10.0.0.1", NOW)["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert setup["state"]["terminated"]["exitCode"] == 0
    assert "running" in proxy["state"] and proxy["ready"]


def test_pod_addresses_are_unique_stable_and_reused_once_freed() -> None:
    addresses = PodAddresses()
    first, second = addresses.assign("a"), addresses.assign("b")
    assert (first, second) == ("10.0.0.1", "10.0.0.2")
    assert addresses.assign("a") == first
    addresses.adopt("c", "10.0.0.3")
    assert addresses.assign("d") == "10.0.0.4"  # skips the adopted one
    addresses.release("a")
    assert addresses.assign("e") == first
    assert len(addresses) == 4
