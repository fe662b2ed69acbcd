"""The replicationcontroller controller: the replicaset controller over core/v1 with a
label-map selector, against the real API server."""

from __future__ import annotations

import json
from typing import Any

from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import running_controllers
from tests.integration.controllers.test_replicaset import settled

Object = dict[str, Any]
PODS = built_in("", "v1", "pods")
EVENTS = built_in("", "v1", "events")
CONTROLLERS = built_in("", "v1", "replicationcontrollers")
NAMESPACE = "default"


def replication_controller(name: str, replicas: int) -> Object:
    labels = {"app": name}
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": labels,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            },
        },
    }


async def test_keeps_adopts_and_scales_pods_of_a_replication_controller(
    api: ApiClient, cluster: Cluster
) -> None:
    orphan = {
        "metadata": {"name": "orphan", "labels": {"app": "web", "extra": "yes"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
    }
    await api.create(PODS, orphan, namespace=NAMESPACE)
    kubectl = cluster.kubectl()
    async with running_controllers(api, "replicationcontroller"):
        owner = await api.create(CONTROLLERS, replication_controller("web", 2), namespace=NAMESPACE)
        pods = await settled(api, owner, 2, CONTROLLERS)
        assert "orphan" in {pod["metadata"]["name"] for pod in pods}
        reference = controller_of(pods[0])
        assert reference is not None
        assert (reference["apiVersion"], reference["kind"]) == ("v1", "ReplicationController")
        fresh = await api.get(CONTROLLERS, "web", namespace=NAMESPACE)
        assert fresh["status"]["fullyLabeledReplicas"] == 2

        await kubectl("scale", "rc/web", "--replicas=4")
        pods = await settled(api, owner, 4, CONTROLLERS)
        events = (await api.list(EVENTS, namespace=NAMESPACE))["items"]
        created = [e for e in events if e["reason"] == "SuccessfulCreate"]
        assert created, "creations are recorded"
        assert created[0]["source"]["component"] == "replication-controller"

        _, out, _ = await kubectl("get", "rc/web", "--subresource=scale", "-o", "json")
        assert json.loads(out)["status"] == {"replicas": 4, "selector": "app=web"}

        await kubectl("scale", "rc/web", "--replicas=1")
        await settled(api, owner, 1, CONTROLLERS)
