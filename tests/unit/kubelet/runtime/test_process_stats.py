"""Resource usage of the process runtime's containers and of the node (kubectl top's
source), with real processes: in cgroups where they are writable, else by process group."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pynetes.kubelet import host
from pynetes.kubelet.runtime.interface import (
    CONTAINER_NAME_LABEL,
    POD_NAME_LABEL,
    POD_NAMESPACE_LABEL,
    ContainerStats,
    PodSandboxConfig,
    RuntimeFailure,
)
from pynetes.kubelet.runtime.process import stats
from pynetes.kubelet.runtime.process.images import ImageCatalog
from pynetes.kubelet.runtime.process.runtime import ProcessRuntime
from pynetes.kubelet.server import resourcemetrics

from .conftest import Pod, require_cgroups, until

SPIN = "held = b'x' * (32 << 20)\nwhile True: pass"


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "process-group"])
async def test_a_busy_containers_cpu_grows_and_its_memory_is_what_it_holds(
    tmp_path: Path, cgroups: bool
) -> None:
    if cgroups:
        require_cgroups()
    runtime = ProcessRuntime(
        tmp_path / "state",
        images=ImageCatalog(tmp_path / "images.yaml"),
        **({} if cgroups else {"cgroup_root": None}),
    )
    config = PodSandboxConfig(name="p", namespace="ns", uid="stats-1", log_directory=str(tmp_path))
    pod = Pod(runtime, await runtime.run_pod_sandbox(config), config)
    try:
        spin = await pod.run("spin", command=[sys.executable, "-c", SPIN], labels={"k": "v"})
        idle = await pod.run("idle", command=["sleep", "300"])

        def usage(found: object) -> dict[str, ContainerStats]:
            return {item.id: item for item in found}  # type: ignore[attr-defined]

        first = usage(await runtime.list_container_stats())
        later = usage(
            await until(
                runtime.list_container_stats,
                lambda found: (
                    usage(found)[spin].cpu_usage_core_nanoseconds
                    >= first[spin].cpu_usage_core_nanoseconds + 200_000_000
                ),
            )
        )
        assert later[spin].memory_working_set_bytes >= 32 << 20
        assert later[idle].memory_working_set_bytes < 32 << 20
        assert later[idle].cpu_usage_core_nanoseconds < later[spin].cpu_usage_core_nanoseconds
        assert later[spin].labels == {"k": "v"}
        assert later[spin].timestamp > first[spin].timestamp
        await runtime.stop_container(spin, 0)
        assert set(usage(await runtime.list_container_stats())) == {idle}  # running ones only
    finally:
        await runtime.remove_pod_sandbox(pod.id)
        await runtime.close()


def test_the_nodes_cpu_and_working_set() -> None:
    before = host.cpu_nanoseconds()
    sum(range(3_000_000))  # some CPU
    assert host.cpu_nanoseconds() > before
    total = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    assert 0 < host.memory_working_set_bytes() <= total


def test_a_cgroups_working_set_leaves_out_inactive_file_pages(tmp_path: Path) -> None:
    (tmp_path / "memory.usage_in_bytes").write_text("10485760\n")
    (tmp_path / "memory.stat").write_text("cache 4096\ntotal_inactive_file 2097152\n")
    assert stats.cgroup_working_set(tmp_path) == 8 << 20
    assert stats.cgroup_working_set(tmp_path / "gone") is None


class Runtime:
    """list_container_stats of two containers of one pod."""

    async def list_container_stats(self) -> list[ContainerStats]:
        def container(name: str, cpu_seconds: int, memory: int) -> ContainerStats:
            labels = {POD_NAMESPACE_LABEL: "ns", POD_NAME_LABEL: "p", CONTAINER_NAME_LABEL: name}
            return ContainerStats(name, labels, 1_700_000_000 * 10**9, cpu_seconds * 10**9, memory)

        return [container("a", 3, 1000), container("b", 4, 24)]


async def test_resource_metrics_by_upstreams_names() -> None:
    text = (await resourcemetrics.scrape(Runtime())).decode()  # type: ignore[arg-type]
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): (sample.value, sample.timestamp)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    container_a = (("container", "a"), ("namespace", "ns"), ("pod", "p"))
    assert samples["container_cpu_usage_seconds_total", container_a] == (3.0, 1_700_000_000)
    assert samples["container_memory_working_set_bytes", container_a] == (1000.0, 1_700_000_000)
    pod = (("namespace", "ns"), ("pod", "p"))
    assert samples["pod_cpu_usage_seconds_total", pod][0] == 7.0
    assert samples["pod_memory_working_set_bytes", pod][0] == 1024.0
    assert samples["node_cpu_usage_seconds_total", ()][0] > 0
    assert samples["node_memory_working_set_bytes", ()][0] > 0
    assert samples["scrape_error", ()][0] == 0


class FailingRuntime:
    async def list_container_stats(self) -> list[ContainerStats]:
        raise RuntimeFailure("the runtime is gone")


async def test_a_failing_runtime_leaves_the_nodes_figures_and_sets_scrape_error() -> None:
    text = (await resourcemetrics.scrape(FailingRuntime())).decode()  # type: ignore[arg-type]
    names = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert names["scrape_error"] == 1
    assert names["node_cpu_usage_seconds_total"] > 0
    assert "container_cpu_usage_seconds_total" not in names
