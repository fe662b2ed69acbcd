"""``python -m pynetes scheduler`` as a process against the real API server: it
schedules, serves /healthz, /metrics and /explain, logs its decisions, rejects
an invalid configuration, and fails over between two leader-elected replicas.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from pynetes.client.rest import ApiClient
from tests.integration import test_scheduler
from tests.integration.components import ComponentProcess, component, lease_holder, run_cli
from tests.integration.conftest import Cluster
from tests.integration.test_scheduler import create_nodes, create_pod, eventually, node_of
from tests.unit.scheduler.builders import node, pod

SCHEDULED = {"result": "scheduled", "profile": "default-scheduler"}
#: The API client fixture, shared with the in-process scheduler tests.
api = test_scheduler.api
#: Short leases so that a failover takes seconds, not the default 15.
FAST_ELECTION = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  leaseDuration: 2s
  renewDeadline: 1500ms
  retryPeriod: 200ms
"""


@contextlib.asynccontextmanager
async def scheduler(
    cluster: Cluster, tmp_path: Path, name: str, *flags: str, verbose: bool = False
) -> AsyncIterator[ComponentProcess]:
    async with component(cluster, tmp_path, "scheduler", name, *flags, verbose=verbose) as running:
        yield running


async def scheduled_once(process: ComponentProcess) -> None:
    """Wait for the one successful attempt: the metric follows the Binding's response."""

    async def counted() -> bool:
        return await process.metric("scheduler_schedule_attempts_total", **SCHEDULED) == 1

    await eventually(counted, "one scheduled attempt")


async def test_schedules_and_serves_health_metrics_explain_and_logs(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    await create_nodes(
        api,
        node("small").capacity(cpu="1"),
        node("tainted").capacity(cpu="8").taint("dedicated", "gpu"),
        node("big-1").capacity(cpu="4"),
        node("big-2").capacity(cpu="4"),
    )
    async with scheduler(cluster, tmp_path, "only", verbose=True) as process:
        await create_pod(api, pod("web").container(cpu="2"))
        chosen = await node_of(api, "web")
        assert chosen in ("big-1", "big-2")
        await create_pod(api, pod("huge").container(cpu="100"))

        async def pending() -> float | None:
            return await process.metric("scheduler_pending_pods", queue="unschedulable")

        await eventually(pending, "huge waits in the unschedulable queue")
        assert await process.get("/healthz") == (200, "ok")
        await scheduled_once(process)
        assert await process.metric("scheduler_pending_pods", queue="active") == 0

        status, _ = await process.get("/explain/default/nobody")
        assert status == 404
        code, out, err = await run_cli(
            "scheduler", "explain", "default/web", "--address", process.address
        )
        assert (code, err) == (0, "")
        code_missing, _, err_missing = await run_cli(
            "scheduler", "explain", "default/nobody", "--address", process.address
        )
        code_huge, out_huge, _ = await run_cli(
            "scheduler", "explain", "default/huge", "--address", process.address
        )
    lines = out.splitlines()
    assert lines[0].startswith(f"pod default/web (profile default-scheduler): bound to {chosen}")
    assert "4 of 4 nodes evaluated" in lines[0]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"small", "tainted", "big-1", "big-2"}
    assert rows[chosen].split()[1] == "passed" and rows[chosen].endswith("*")
    assert "rejected  NodeResourcesFit: Insufficient cpu" in rows["small"]
    assert "rejected  TaintToleration: node(s) had untolerated taint" in rows["tainted"]
    assert code_missing == 1 and "default/nobody" in err_missing
    assert code_huge == 0
    assert "not bound" in out_huge.splitlines()[0]
    assert "0/4 nodes are available" in out_huge

    log = process.log()
    assert f'Successfully bound pod to node pod="default/web" node="{chosen}"' in log
    assert 'Unable to schedule pod; no fit; waiting pod="default/huge" err="0/4 nodes' in log


async def test_an_invalid_config_stops_start_up_naming_the_field(
    cluster: Cluster, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "profiles:\n"
        "- schedulerName: a\n"
        "  percentageOfNodesToScore: 150\n"
    )
    code, _, err = await run_cli(
        "scheduler", "--kubeconfig", str(cluster.kubeconfig), "--config", str(config)
    )
    assert code != 0
    assert "profiles[0].percentageOfNodesToScore" in err


async def test_only_the_leader_schedules_and_the_other_takes_over(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    config = tmp_path / "election.yaml"
    config.write_text(FAST_ELECTION)
    await create_nodes(api, node("n").capacity(cpu="4"))
    flags = ("--config", str(config), "--leader-elect")
    async with (
        scheduler(cluster, tmp_path, "a", *flags) as first,
        scheduler(cluster, tmp_path, "b", *flags) as second,
    ):
        holder = await eventually(lambda: lease_holder(api, "kube-scheduler"), "a leader")
        by_identity = {first.identity(): first, second.identity(): second}
        leader = by_identity[holder]
        follower = first if leader is second else second

        await create_pod(api, pod("before").container(cpu="1"))
        assert await node_of(api, "before") == "n"
        await scheduled_once(leader)
        assert await follower.metric("scheduler_schedule_attempts_total", **SCHEDULED) is None
        assert (await follower.get("/explain/default/before"))[0] == 404

        leader.process.send_signal(signal.SIGKILL)
        await leader.process.wait()

        async def taken_over() -> bool:
            return await lease_holder(api, "kube-scheduler") == follower.identity()

        await eventually(taken_over, "the follower holds the lease")
        await create_pod(api, pod("after").container(cpu="1"))
        assert await node_of(api, "after") == "n"
        await scheduled_once(follower)
