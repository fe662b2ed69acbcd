"""How a DELETE hands work to the garbage collector and the namespace controller.

The API server records a propagation policy as a finalizer (``orphan``,
``foregroundDeletion``) and holds a namespace by its ``spec.finalizers``,
which only the ``finalize`` subresource changes; no controller runs here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster

CONFIGMAPS = built_in("", "v1", "configmaps")
NAMESPACES = built_in("", "v1", "namespaces")
REPLICATION_CONTROLLERS = built_in("", "v1", "replicationcontrollers")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
TEMPLATE = {
    "metadata": {"labels": {"app": "a"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


async def absent(api: ApiClient, resource: object, name: str, namespace: str | None) -> bool:
    try:
        await api.get(resource, name, namespace=namespace)  # type: ignore[arg-type]
    except errors.NotFound:
        return True
    return False


async def test_orphan_policy_holds_the_object_until_a_background_delete_replaces_it(
    api: ApiClient,
) -> None:
    await api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="default")
    held = await api.delete(CONFIGMAPS, "owner", namespace="default", propagation_policy="Orphan")
    assert held["metadata"]["finalizers"] == ["orphan"]
    assert held["metadata"]["deletionTimestamp"]

    await api.delete(CONFIGMAPS, "owner", namespace="default", propagation_policy="Background")
    assert await absent(api, CONFIGMAPS, "owner", "default")


async def test_foreground_then_orphan_swaps_the_finalizer(api: ApiClient) -> None:
    await api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="default")
    await api.delete(CONFIGMAPS, "owner", namespace="default", propagation_policy="Foreground")
    held = await api.delete(CONFIGMAPS, "owner", namespace="default", propagation_policy="Orphan")
    assert held["metadata"]["finalizers"] == ["orphan"]


async def test_replication_controllers_orphan_by_default_and_replica_sets_do_not(
    api: ApiClient,
) -> None:
    controller = {"metadata": {"name": "rc"}, "spec": {"selector": {"app": "a"}}}
    controller["spec"]["template"] = TEMPLATE
    await api.create(REPLICATION_CONTROLLERS, controller, namespace="default")
    held = await api.delete(REPLICATION_CONTROLLERS, "rc", namespace="default")
    assert held["metadata"]["finalizers"] == ["orphan"]

    replica_set = {
        "metadata": {"name": "rs"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": TEMPLATE},
    }
    await api.create(REPLICA_SETS, replica_set, namespace="default")
    await api.delete(REPLICA_SETS, "rs", namespace="default")
    assert await absent(api, REPLICA_SETS, "rs", "default")


async def test_a_namespace_goes_once_finalize_empties_its_spec_finalizers(api: ApiClient) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "doomed"}})
    deleted = await api.delete(NAMESPACES, "doomed")
    assert deleted["spec"]["finalizers"] == ["kubernetes"]
    assert deleted["status"]["phase"] == "Terminating"

    deleted["spec"]["finalizers"] = []
    replaced = await api.replace(NAMESPACES, deleted)  # the main resource cannot drop them
    assert replaced["spec"]["finalizers"] == ["kubernetes"]

    replaced["spec"]["finalizers"] = []
    await api.replace(NAMESPACES, replaced, subresource="finalize")
    assert await absent(api, NAMESPACES, "doomed", None)


async def test_a_finalized_namespace_waits_for_its_metadata_finalizers(api: ApiClient) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    deleted = await api.delete(NAMESPACES, "held")
    deleted["spec"]["finalizers"] = []
    finalized = await api.replace(NAMESPACES, deleted, subresource="finalize")
    assert finalized["spec"]["finalizers"] == []
    assert finalized["status"]["phase"] == "Terminating"

    await api.patch(NAMESPACES, "held", {"metadata": {"finalizers": None}})
    assert await absent(api, NAMESPACES, "held", None)


async def test_kubectl_replace_raw_finalize_releases_a_stuck_namespace(
    api: ApiClient, cluster: Cluster, tmp_path: Path
) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "stuck"}})
    stuck = await api.delete(NAMESPACES, "stuck")
    stuck["spec"]["finalizers"] = []
    body = tmp_path / "stuck.json"
    body.write_bytes(orjson.dumps(stuck))
    kubectl = cluster.kubectl()
    await kubectl("replace", "--raw", "/api/v1/namespaces/stuck/finalize", "-f", str(body))
    assert await absent(api, NAMESPACES, "stuck", None)
