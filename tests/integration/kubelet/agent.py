"""A real kubelet (``KubeletAgent``, process runtime) in the test's process, for the tests."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.agent import AgentOptions, KubeletAgent, tear_down_pods
from pynetes.kubelet.config import KubeletConfiguration
from pynetes.kubelet.runtime.process.cni import CniOptions
from pynetes.kubelet.syncpod import Clocks
from pynetes.kubelet.volumes.tmpfs import unmount_all_under
from pynetes.pki.certificates import Pki
from tests.integration.conftest import Cluster, Restartable, free_port
from tests.integration.controllers.harness import eventually, running_controllers

Object = dict[str, Any]
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
CONFIG_MAPS = built_in("", "v1", "configmaps")
SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
NODE = "node-1"


@contextlib.asynccontextmanager
async def running_kubelet(
    cluster: Cluster | Restartable,
    client: ApiClient,
    root: Path,
    *,
    clocks: Clocks | None = None,
    keep_containers: bool = False,
    cni: CniOptions | None = None,
    **config: Any,
) -> AsyncIterator[KubeletAgent]:
    """A kubelet for node ``node-1`` on ``root`` until the block ends; ``config`` sets
    KubeletConfiguration fields. Its containers are stopped afterwards (a real kubelet
    leaves them running; a test must not), and its pods' tmpfs volumes unmounted, unless
    ``keep_containers`` (the test starts another kubelet on ``root``, and that one stops
    them). ``cni`` turns pod networking on."""
    settings = dataclasses.replace(
        KubeletConfiguration(),
        port=free_port(),
        healthz_port=0,
        pod_logs_dir=str(root / "logs"),
        sync_frequency=config.pop("sync_frequency", 5.0),
        node_status_update_frequency=1.0,
        **config,
    )
    options = AgentOptions(
        node_name=NODE,
        root_dir=root,
        client_ca_file=Pki(cluster.server.pki_dir).ca_cert,
        clocks=clocks or Clocks(),
        cni=cni,
    )
    agent = KubeletAgent(client, settings, options)
    async with token_volume_controllers(client):
        await agent.start()
        try:
            yield agent
        finally:
            await agent.stop()
            if not keep_containers:
                await tear_down_pods(root, cni)
                await unmount_all_under(root)  # the pods' memory-backed volumes


@contextlib.asynccontextmanager
async def token_volume_controllers(client: ApiClient) -> AsyncIterator[None]:
    """Pods mount a token of their ServiceAccount and the cluster CA (kube-root-ca.crt):
    the controllers making both run (as in a cluster's controller manager) until the
    block ends, and namespace ``default`` has both when it starts."""
    async with running_controllers(client, "root-ca-cert-publisher", "serviceaccount"):
        await eventually(lambda: token_volume_ready(client))
        yield


async def token_volume_ready(client: ApiClient) -> bool:
    """Whether namespace ``default`` has what a pod's token volume needs."""
    try:
        await client.get(CONFIG_MAPS, "kube-root-ca.crt", namespace="default")
        await client.get(SERVICE_ACCOUNTS, "default", namespace="default")
    except errors.NotFound:
        return False
    return True


def pod(name: str, *containers: Object, **spec: Any) -> Object:
    """A pod for node-1 (bound already: no scheduler needed)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": list(containers), **spec},
    }


def shell(name: str, script: str, **fields: Any) -> Object:
    """A container running ``sh -c script``."""
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **fields}


async def wait_for_pod(client: ApiClient, name: str, check: Any) -> Object:
    """The pod once ``check(pod)`` holds."""

    async def seen() -> Object | None:
        found = await client.get(PODS, name, namespace="default")
        return found if check(found) else None

    return await eventually(seen)


async def wait_for_deletion(client: ApiClient, name: str, namespace: str = "default") -> None:
    """Until pod ``name`` is gone from the API (the kubelet completed its deletion)."""

    async def gone() -> bool:
        try:
            await client.get(PODS, name, namespace=namespace)
        except errors.NotFound:
            return True
        return False

    await eventually(gone)


def phase_is(phase: str) -> Any:
    return lambda pod: (pod.get("status") or {}).get("phase") == phase


def container_status(pod: Object, name: str) -> Object:
    """The status of container ``name`` (an empty one until the kubelet reported it)."""
    status = pod.get("status") or {}
    statuses = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    unreported = {"name": name, "state": {}, "lastState": {}, "restartCount": 0, "ready": False}
    return next((s for s in statuses if s["name"] == name), unreported)


class ShiftedClocks(Clocks):
    """Real time plus an offset a test moves forward (to cross a back-off at once)."""

    def __init__(self) -> None:
        self.offset = 0.0
        super().__init__(
            monotonic=lambda: time.monotonic() + self.offset,
            wall=lambda: time.time() + self.offset,
        )

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def events_of(client: ApiClient, name: str) -> list[Object]:
    """The Events about pod ``name`` in ``default``."""
    listed = await client.list(EVENTS, namespace="default")
    return [e for e in listed["items"] if e["involvedObject"].get("name") == name]


async def wait_for_event(client: ApiClient, name: str, reason: str) -> Object:
    async def seen() -> Object | None:
        return next((e for e in await events_of(client, name) if e["reason"] == reason), None)

    return await eventually(seen)
