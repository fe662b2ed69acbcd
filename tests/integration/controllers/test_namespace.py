"""The namespace controller against the real API server (and real kubectl)."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.widgets import WIDGETS, widget_crd

NAMESPACES = built_in("", "v1", "namespaces")
CONFIGMAPS = built_in("", "v1", "configmaps")
SECRETS = built_in("", "v1", "secrets")
PODS = built_in("", "v1", "pods")
HOLD = "example.com/hold"
Object = dict[str, Any]


async def namespace_gone(api: ApiClient, name: str) -> bool:
    try:
        await api.get(NAMESPACES, name)
    except errors.NotFound:
        return True
    return False


async def fill(api: ApiClient, namespace: str) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": namespace}})
    await api.create(CONFIGMAPS, {"metadata": {"name": "c"}}, namespace=namespace)
    await api.create(SECRETS, {"metadata": {"name": "s"}}, namespace=namespace)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await api.create(PODS, pod, namespace=namespace)


async def test_a_deleted_namespace_is_emptied_then_goes(api: ApiClient) -> None:
    await widget_crd(api, scale=False)
    await fill(api, "doomed")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    await api.create(WIDGETS, widget, namespace="doomed")
    await fill(api, "kept")
    async with running_controllers(api, "namespace"):
        await api.delete(NAMESPACES, "doomed")
        await eventually(lambda: namespace_gone(api, "doomed"))
    for resource in (CONFIGMAPS, SECRETS, PODS, WIDGETS):
        assert (await api.list(resource, namespace="doomed"))["items"] == []
    assert len((await api.list(CONFIGMAPS, namespace="kept"))["items"]) == 1


async def test_kubectl_delete_namespace_finishes(api: ApiClient, cluster: Cluster) -> None:
    await fill(api, "team")
    async with running_controllers(api, "namespace"):
        _, out, _ = await cluster.kubectl()("delete", "namespace", "team", "--timeout=50s")
    assert 'namespace "team" deleted' in out
    assert await namespace_gone(api, "team")


async def test_content_held_by_a_finalizer_keeps_the_namespace_and_says_why(
    api: ApiClient,
) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "stuck"}})
    held = {"metadata": {"name": "held", "finalizers": [HOLD]}}
    await api.create(CONFIGMAPS, held, namespace="stuck")
    async with running_controllers(api, "namespace"):
        await api.delete(NAMESPACES, "stuck")

        async def conditions() -> dict[str, Object]:
            found = await api.get(NAMESPACES, "stuck")
            listed = (found.get("status") or {}).get("conditions") or []
            return {c["type"]: c for c in listed}

        reported = await eventually(conditions)
    remaining = reported["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["reason"]) == ("True", "SomeResourcesRemain")
    assert remaining["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances"
    )
    finalizers = reported["NamespaceFinalizersRemaining"]
    assert (finalizers["status"], finalizers["reason"]) == ("True", "SomeFinalizersRemain")
    assert finalizers["message"] == (
        f"Some content in the namespace has finalizers remaining: {HOLD} in 1 resource instances"
    )
    for kind, reason in (
        ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"),
        ("NamespaceDeletionContentFailure", "ContentDeleted"),
    ):
        assert (reported[kind]["status"], reported[kind]["reason"]) == ("False", reason)
    namespace = await api.get(NAMESPACES, "stuck")
    assert namespace["status"]["phase"] == "Terminating"
    assert namespace["spec"]["finalizers"] == ["kubernetes"]
    held_now = await api.get(CONFIGMAPS, "held", namespace="stuck")
    assert held_now["metadata"]["deletionTimestamp"]
