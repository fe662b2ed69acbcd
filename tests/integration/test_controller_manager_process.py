"""``python -m pynetes controller-manager`` as a process against the real API server:
it runs its controllers, serves /healthz and /metrics, refuses an unknown
controller name, and fails over between two leader-elected replicas.
"""

from __future__ import annotations

import signal
from pathlib import Path

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.components import ComponentProcess, component, lease_holder, run_cli
from tests.integration.conftest import Cluster
from tests.integration.controllers.conftest import api
from tests.integration.controllers.harness import eventually

__all__ = ["api"]

NAMESPACES = built_in("", "v1", "namespaces")
SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
#: Short leases so that a failover takes seconds, not the default 15.
FAST_ELECTION = (
    "--leader-elect-lease-duration=2s",
    "--leader-elect-renew-deadline=1500ms",
    "--leader-elect-retry-period=200ms",
)


async def default_account_in(api: ApiClient, namespace: str) -> bool:
    await api.create(NAMESPACES, {"metadata": {"name": namespace}})

    async def exists() -> bool:
        try:
            await api.get(SERVICE_ACCOUNTS, "default", namespace=namespace)
        except errors.NotFound:
            return False
        return True

    return await eventually(exists)


async def test_runs_controllers_and_serves_health_and_workqueue_metrics(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    flags = ("--controllers=serviceaccount", "--leader-elect=false")
    async with component(cluster, tmp_path, "controller-manager", "only", *flags) as process:
        assert await default_account_in(api, "team-a")
        assert await process.get("/healthz") == (200, "ok")

        async def added() -> float | None:
            return await process.metric("workqueue_adds_total", name="serviceaccount")

        assert await eventually(added) >= 1
    assert "controllers: serviceaccount" in process.log()


async def test_an_unknown_controller_stops_start_up_naming_it(cluster: Cluster) -> None:
    code, _, err = await run_cli(
        "controller-manager", "--kubeconfig", str(cluster.kubeconfig), "--controllers=*,nosuch"
    )
    assert code == 1
    assert '"nosuch" is not in the list of known controllers' in err


async def test_only_the_leader_runs_controllers_and_the_other_takes_over(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    flags = ("--controllers=serviceaccount", *FAST_ELECTION)
    async with (
        component(cluster, tmp_path, "controller-manager", "a", *flags) as first,
        component(cluster, tmp_path, "controller-manager", "b", *flags) as second,
    ):
        holder = await eventually(lambda: lease_holder(api, "kube-controller-manager"))
        by_identity = {first.identity(): first, second.identity(): second}
        leader = by_identity[holder]
        follower: ComponentProcess = first if leader is second else second
        assert await default_account_in(api, "before")
        assert await follower.metric("workqueue_adds_total", name="serviceaccount") is None

        leader.process.send_signal(signal.SIGKILL)
        await leader.process.wait()

        async def taken_over() -> bool:
            return await lease_holder(api, "kube-controller-manager") == follower.identity()

        await eventually(taken_over)
        assert await default_account_in(api, "after")
        assert await follower.metric("workqueue_adds_total", name="serviceaccount") >= 1
