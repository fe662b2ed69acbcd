"""Pods sharing the host network: a port two pods would bind is reported to the user."""

from __future__ import annotations

from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.kubelet.agent import (
    PODS,
    events_of,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_event,
    wait_for_pod,
)


def with_port(name: str, **port: int) -> dict:
    return pod(name, shell("app", "sleep 3600", ports=[{"containerPort": 8080, **port}]))


async def test_a_second_pod_declaring_a_taken_port_gets_a_warning(
    cluster: Cluster, api: ApiClient, tmp_path
):
    async with running_kubelet(cluster, api, tmp_path):
        await api.create(PODS, with_port("first"))
        await wait_for_pod(api, "first", phase_is("Running"))
        await api.create(PODS, with_port("second"))
        event = await wait_for_event(api, "second", "NodePorts")
        assert event["type"] == "Warning"
        assert event["message"] == (
            "node(s) didn't have free ports for the requested pod ports: "
            "8080/TCP is used by pod default/first"
        )
        # The pod still runs (it may not bind the port it declares); the first has no warning.
        await wait_for_pod(api, "second", phase_is("Running"))
        assert not [e for e in await events_of(api, "first") if e["reason"] == "NodePorts"]
