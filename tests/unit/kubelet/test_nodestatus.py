"""The Node's resources and conditions computed from the host and the configuration."""

from __future__ import annotations

import dataclasses

from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.host import HostUsage, go_arch, read_identity, read_usage
from pynetes.kubelet.nodestatus import (
    allocatable_amounts,
    capacity_amounts,
    condition_states,
    render_resources,
)

GI = 1024**3
HOST = HostUsage(
    cpus=4,
    memory_bytes=16 * GI,
    memory_available_bytes=8 * GI,
    fs_bytes=100 * GI,
    fs_available_bytes=50 * GI,
    fs_inodes=1000,
    fs_inodes_free=500,
    pid_max=32768,
    pids_in_use=300,
)


def test_capacity_is_the_hosts_and_max_pods() -> None:
    capacity = capacity_amounts(HOST, KubeletConfiguration(max_pods=42))
    assert render_resources(capacity) == {
        "cpu": "4",
        "memory": "16Gi",
        "ephemeral-storage": "100Gi",
        "pods": "42",
    }


def test_capacity_overrides_replace_what_the_host_has() -> None:
    config = KubeletConfiguration(capacity_overrides={"cpu": "64", "memory": "256Gi"})
    rendered = render_resources(capacity_amounts(HOST, config))
    assert (rendered["cpu"], rendered["memory"]) == ("64", "256Gi")


def test_allocatable_subtracts_reservations_and_hard_eviction() -> None:
    config = KubeletConfiguration(
        system_reserved={"cpu": "500m", "memory": "1Gi"},
        kube_reserved={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "10Gi"},
    )
    allocatable = render_resources(allocatable_amounts(capacity_amounts(HOST, config), config))
    # memory: 16Gi - 1Gi - 512Mi - 100Mi (memory.available); storage: 100Gi - 10Gi - 10%
    assert allocatable == {
        "cpu": "3250m",
        "memory": str(16 * 1024 - 1024 - 512 - 100) + "Mi",
        "ephemeral-storage": "80Gi",
        "pods": "110",
    }


def test_allocatable_never_goes_below_zero() -> None:
    config = KubeletConfiguration(system_reserved={"cpu": "100"})
    assert allocatable_amounts(capacity_amounts(HOST, config), config)["cpu"] == 0


def conditions(usage: HostUsage, **config: object) -> dict[str, tuple[str, str]]:
    states = condition_states(usage, KubeletConfiguration(**config))  # type: ignore[arg-type]
    return {kind: (status, reason) for kind, status, reason, _message in states}


def test_a_healthy_host_reports_no_pressure_and_ready_in_the_kubelets_order() -> None:
    states = condition_states(HOST, KubeletConfiguration())
    assert [state[0] for state in states] == ["MemoryPressure", "DiskPressure", "PIDPressure",
                                             "Ready"]  # fmt: skip
    assert conditions(HOST) == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"),
        "Ready": ("True", "KubeletReady"),
    }


def test_pressure_follows_the_eviction_thresholds() -> None:
    low_memory = dataclasses.replace(HOST, memory_available_bytes=50 * 1024**2)
    assert conditions(low_memory)["MemoryPressure"] == ("True", "KubeletHasInsufficientMemory")
    full_disk = dataclasses.replace(HOST, fs_available_bytes=5 * GI)
    assert conditions(full_disk)["DiskPressure"] == ("True", "KubeletHasDiskPressure")
    no_inodes = dataclasses.replace(HOST, fs_inodes_free=10)
    assert conditions(no_inodes)["DiskPressure"] == ("True", "KubeletHasDiskPressure")
    many_pids = dataclasses.replace(HOST, pids_in_use=32000)
    assert conditions(many_pids)["PIDPressure"] == ("False", "KubeletHasSufficientPID")
    assert conditions(many_pids, eviction_hard={"pid.available": "5%"})["PIDPressure"] == (
        "True",
        "KubeletHasInsufficientPID",
    )
    # a threshold left out of evictionHard is not enforced
    assert conditions(low_memory, eviction_hard={})["MemoryPressure"][0] == "False"


def test_a_runtime_that_is_down_makes_the_node_not_ready() -> None:
    states = condition_states(HOST, KubeletConfiguration(), "container runtime is down")
    assert states[-1] == ("Ready", "False", "KubeletNotReady", "container runtime is down")


def test_the_real_host_is_read() -> None:
    usage = read_usage("/")
    assert usage.cpus >= 1 and usage.memory_bytes > usage.memory_available_bytes > 0
    assert usage.fs_bytes >= usage.fs_available_bytes > 0
    identity = read_identity()
    assert identity.operating_system == "linux"
    assert identity.architecture in ("amd64", "arm64")
    assert identity.kernel_version and identity.os_image and identity.boot_id
    assert go_arch("x86_64") == "amd64" and go_arch("aarch64") == "arm64"
