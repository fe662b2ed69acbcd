"""Static pods with their mirror pods, a kubelet restart, and the API server going away."""

from __future__ import annotations

from pathlib import Path

from pynetes.apiserver.app import ServerOptions, start
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.staticpods import CONFIG_MIRROR_ANNOTATION
from tests.integration.conftest import Cluster, Restartable
from tests.integration.controllers.harness import eventually
from tests.integration.kubelet.agent import (
    NODE,
    PODS,
    container_status,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_deletion,
    wait_for_pod,
)

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: kube-system
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo started >> {log}; {command}"]
"""


def write_manifest(folder: Path, name: str, log: Path, command: str = "sleep 3600") -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(MANIFEST.format(name=name, log=log, command=command))


async def mirror(client: ApiClient, name: str, check=lambda _pod: True):
    async def seen():
        try:
            found = await client.get(PODS, name, namespace="kube-system")
        except errors.NotFound:
            return None
        return found if check(found) else None

    return await eventually(seen)


async def test_a_static_pod_runs_and_is_mirrored_and_survives_mirror_deletion(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    manifests, log = tmp_path / "manifests", tmp_path / "starts"
    write_manifest(manifests, "web", log)
    async with running_kubelet(cluster, api, tmp_path, static_pod_path=str(manifests)):
        running = await mirror(api, f"web-{NODE}", phase_is("Running"))
        annotations = running["metadata"]["annotations"]
        assert CONFIG_MIRROR_ANNOTATION in annotations
        owner = running["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Node", NODE, True)
        container_id = container_status(running, "app")["containerID"]

        await api.delete(PODS, f"web-{NODE}", namespace="kube-system")
        again = await mirror(
            api,
            f"web-{NODE}",
            lambda p: p["metadata"]["uid"] != running["metadata"]["uid"] and phase_is("Running")(p),
        )
        assert container_status(again, "app")["containerID"] == container_id
        assert log.read_text().split() == ["started"]

        write_manifest(manifests, "web", log, command="sleep 7200")
        await mirror(
            api,
            f"web-{NODE}",
            lambda p: (
                container_status(p, "app").get("containerID") not in (None, container_id)
                and phase_is("Running")(p)
            ),
        )
        assert log.read_text().split() == ["started", "started"]

        (manifests / "web.yaml").unlink()

        await wait_for_deletion(api, f"web-{NODE}", "kube-system")


async def test_a_restarted_kubelet_adopts_running_containers_and_starts_nothing_twice(
    cluster: Cluster, api: ApiClient, tmp_path: Path
):
    log = tmp_path / "starts"
    spec = pod("steady", shell("app", f"echo started >> {log}; sleep 3600"))
    async with running_kubelet(cluster, api, tmp_path, keep_containers=True):
        await api.create(PODS, spec)
        before = await wait_for_pod(api, "steady", phase_is("Running"))
    async with running_kubelet(cluster, api, tmp_path) as agent:
        assert agent.kubelet is not None
        await agent.kubelet.wait_synced()
        uid = before["metadata"]["uid"]
        await eventually(lambda: _synced(agent, uid))
        after = await api.get(PODS, "steady", namespace="default")
        assert (
            container_status(after, "app")["containerID"]
            == container_status(before, "app")["containerID"]
        )
        assert container_status(after, "app")["restartCount"] == 0
        assert log.read_text().split() == ["started"]


async def _synced(agent, uid: str) -> bool:
    record = agent.kubelet.syncer.records.get(uid)
    return record is not None and record.last_status is not None


async def test_static_pods_run_while_the_api_server_is_down_and_report_when_it_is_back(
    restartable: Restartable, tmp_path: Path
):
    manifests, log = tmp_path / "manifests", tmp_path / "starts"
    write_manifest(manifests, "early", log)
    async with (
        ApiClient(restartable.client_config()) as api,
        running_kubelet(restartable, api, tmp_path / "kubelet", static_pod_path=str(manifests)),
    ):
        await mirror(api, f"early-{NODE}", phase_is("Running"))
        await restartable.server.stop()

        second_log = tmp_path / "second-starts"
        write_manifest(manifests, "offline", second_log)

        async def started_offline() -> bool:
            return second_log.exists() and second_log.read_text().split() == ["started"]

        await eventually(started_offline)
        restartable.server = await start(
            ServerOptions(data_dir=restartable.data_dir, secure_port=restartable.port)
        )
        await mirror(api, f"offline-{NODE}", phase_is("Running"))
        assert log.read_text().split() == ["started"]
