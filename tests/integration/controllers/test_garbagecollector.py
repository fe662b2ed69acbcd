"""The garbage collector against the real API server.

Owners and dependents are made by hand (no workload controller runs): a
ReplicaSet owning pods, as the replicaset controller would make them.
"""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.widgets import WIDGETS, widget_crd

CONFIGMAPS = built_in("", "v1", "configmaps")
EVENTS = built_in("", "v1", "events")
PODS = built_in("", "v1", "pods")
NAMESPACES = built_in("", "v1", "namespaces")
REPLICA_SETS = built_in("apps", "v1", "replicasets")
CLUSTER_ROLES = built_in("rbac.authorization.k8s.io", "v1", "clusterroles")
HOLD = "example.com/hold"
Object = dict[str, Any]


def replica_set(name: str) -> Object:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def owned_by(owner: Object, *, block: bool = False, controller: bool = True) -> Object:
    reference = {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
    }
    if block:
        reference["blockOwnerDeletion"] = True
    return reference


def pod(name: str, *owners: Object, finalizers: tuple[str, ...] = ()) -> Object:
    metadata: Object = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        metadata["finalizers"] = list(finalizers)
    return {"metadata": metadata, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def find(api: ApiClient, resource: Resource, name: str, namespace: str = "default") -> Any:
    try:
        return await api.get(resource, name, namespace=namespace)
    except errors.NotFound:
        return None


async def gone(api: ApiClient, resource: Resource, name: str, namespace: str = "default") -> bool:
    return await find(api, resource, name, namespace) is None


async def test_deleting_an_owner_deletes_its_dependents_in_the_background(api: ApiClient) -> None:
    owner = await api.create(REPLICA_SETS, replica_set("web"), namespace="default")
    for name in ("web-1", "web-2"):
        await api.create(PODS, pod(name, owned_by(owner)), namespace="default")
    await api.create(CONFIGMAPS, {"metadata": {"name": "unowned"}}, namespace="default")
    async with running_controllers(api, "garbagecollector"):
        await api.delete(REPLICA_SETS, "web", namespace="default", propagation_policy="Background")
        await eventually(lambda: gone(api, PODS, "web-1"))
        await eventually(lambda: gone(api, PODS, "web-2"))
    assert await find(api, CONFIGMAPS, "unowned") is not None


async def test_a_dependent_whose_owner_never_existed_is_collected(api: ApiClient) -> None:
    ghost = {"kind": "ReplicaSet", "apiVersion": "apps/v1"}
    ghost["metadata"] = {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}
    owner = await api.create(REPLICA_SETS, replica_set("real"), namespace="default")
    await api.create(PODS, pod("orphaned", owned_by(ghost)), namespace="default")
    await api.create(
        PODS, pod("shared", owned_by(ghost, controller=False), owned_by(owner)), namespace="default"
    )
    async with running_controllers(api, "garbagecollector"):
        await eventually(lambda: gone(api, PODS, "orphaned"))

        async def ghost_dropped() -> bool:
            found = await find(api, PODS, "shared")
            return [r["name"] for r in found["metadata"]["ownerReferences"]] == ["real"]

        await eventually(ghost_dropped)


async def test_foreground_deletion_keeps_the_owner_until_blocking_dependents_are_gone(
    api: ApiClient,
) -> None:
    owner = await api.create(REPLICA_SETS, replica_set("web"), namespace="default")
    await api.create(
        PODS, pod("held", owned_by(owner, block=True), finalizers=(HOLD,)), namespace="default"
    )
    async with running_controllers(api, "garbagecollector"):
        await api.delete(REPLICA_SETS, "web", namespace="default", propagation_policy="Foreground")

        async def dependent_deleting() -> bool:
            found = await find(api, PODS, "held")
            return bool(found["metadata"].get("deletionTimestamp"))

        await eventually(dependent_deleting)
        waiting = await find(api, REPLICA_SETS, "web")
        assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]

        await api.patch(PODS, "held", {"metadata": {"finalizers": None}}, namespace="default")
        await eventually(lambda: gone(api, REPLICA_SETS, "web"))


async def test_orphaning_keeps_the_dependents_without_the_reference(api: ApiClient) -> None:
    owner = await api.create(REPLICA_SETS, replica_set("web"), namespace="default")
    await api.create(PODS, pod("kept", owned_by(owner, block=True)), namespace="default")
    async with running_controllers(api, "garbagecollector"):
        await api.delete(REPLICA_SETS, "web", namespace="default", propagation_policy="Orphan")
        await eventually(lambda: gone(api, REPLICA_SETS, "web"))
    kept = await find(api, PODS, "kept")
    assert kept is not None and not kept["metadata"].get("ownerReferences")


async def test_an_owner_in_another_namespace_counts_as_absent_and_is_reported(
    api: ApiClient,
) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "elsewhere"}})
    owner = await api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="elsewhere")
    await api.create(PODS, pod("stray", owned_by(owner)), namespace="default")
    async with running_controllers(api, "garbagecollector"):
        await eventually(lambda: gone(api, PODS, "stray"))

        async def reported() -> list[Object]:
            listed = await api.list(EVENTS, namespace="default")
            return [e for e in listed["items"] if e["reason"] == "OwnerRefInvalidNamespace"]

        [event] = await eventually(reported)
    assert event["type"] == "Warning"
    uid = owner["metadata"]["uid"]
    assert event["message"] == (
        f"ownerRef [v1/ConfigMap, namespace: default, name: owner, uid: {uid}]"
        ' does not exist in namespace "default"'
    )
    assert event["involvedObject"]["name"] == "stray"
    assert await find(api, CONFIGMAPS, "owner", "elsewhere") is not None


async def test_custom_resources_are_collected_too(api: ApiClient) -> None:
    async with running_controllers(api, "garbagecollector"):
        await widget_crd(api, scale=False)
        owner = await api.create(
            WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        )
        widget_owner = {**owner, "kind": "Widget"}
        await api.create(
            CONFIGMAPS,
            {"metadata": {"name": "part", "ownerReferences": [owned_by(widget_owner)]}},
            namespace="default",
        )
        owned = await api.create(
            WIDGETS,
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "child", "ownerReferences": [owned_by(widget_owner)]},
            },
        )
        assert owned
        await api.delete(WIDGETS, "w", namespace="default")
        await eventually(lambda: gone(api, CONFIGMAPS, "part"))
        await eventually(lambda: gone(api, WIDGETS, "child"))


async def test_foreground_deletion_goes_down_every_generation_first(api: ApiClient) -> None:
    top = await api.create(REPLICA_SETS, replica_set("top"), namespace="default")
    middle = {
        "kind": "ConfigMap",
        **await api.create(
            CONFIGMAPS,
            {"metadata": {"name": "middle", "ownerReferences": [owned_by(top, block=True)]}},
            namespace="default",
        ),
    }
    await api.create(
        PODS,
        pod("bottom", owned_by(middle, block=True), finalizers=(HOLD,)),
        namespace="default",
    )
    async with running_controllers(api, "garbagecollector"):
        await api.delete(REPLICA_SETS, "top", namespace="default", propagation_policy="Foreground")

        async def middle_waits() -> bool:
            found = await find(api, CONFIGMAPS, "middle")
            return found["metadata"].get("finalizers") == ["foregroundDeletion"]

        await eventually(middle_waits)
        assert await find(api, REPLICA_SETS, "top") is not None
        await api.patch(PODS, "bottom", {"metadata": {"finalizers": None}}, namespace="default")
        await eventually(lambda: gone(api, REPLICA_SETS, "top"))
    assert await gone(api, CONFIGMAPS, "middle")


async def test_kubectl_cascading_deletes_finish(api: ApiClient, cluster: Cluster) -> None:
    kubectl = cluster.kubectl()
    for name in ("fg", "bg", "or"):
        owner = await api.create(REPLICA_SETS, replica_set(name), namespace="default")
        await api.create(PODS, pod(f"{name}-pod", owned_by(owner, block=True)), namespace="default")
    async with running_controllers(api, "garbagecollector"):
        await kubectl("delete", "rs", "fg", "--cascade=foreground", "--timeout=50s")
        assert await gone(api, PODS, "fg-pod")
        await kubectl("delete", "rs", "or", "--cascade=orphan", "--timeout=50s")
        orphaned = await find(api, PODS, "or-pod")
        assert not orphaned["metadata"].get("ownerReferences")
        await kubectl("delete", "rs", "bg")
        await eventually(lambda: gone(api, PODS, "bg-pod"))


async def test_an_owner_of_an_unknown_kind_leaves_the_dependent_and_the_collector_working(
    api: ApiClient,
) -> None:
    unknown = {"kind": "Nope", "apiVersion": "example.com/v9"}
    unknown["metadata"] = {"name": "nope", "uid": "11111111-1111-1111-1111-111111111111"}
    await api.create(PODS, pod("kept", owned_by(unknown)), namespace="default")
    ghost = {"kind": "ReplicaSet", "apiVersion": "apps/v1"}
    ghost["metadata"] = {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}
    async with running_controllers(api, "garbagecollector"):
        await api.create(PODS, pod("collected", owned_by(ghost)), namespace="default")
        await eventually(lambda: gone(api, PODS, "collected"))
    assert await find(api, PODS, "kept") is not None


async def test_a_cluster_scoped_dependent_of_a_namespaced_kind_is_reported_and_kept(
    api: ApiClient,
) -> None:
    owner = await api.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, namespace="default")
    role = {"metadata": {"name": "confused", "ownerReferences": [owned_by(owner)]}, "rules": []}
    await api.create(CLUSTER_ROLES, role)
    async with running_controllers(api, "garbagecollector"):
        await api.delete(CONFIGMAPS, "owner", namespace="default")

        async def reported() -> list[Object]:
            listed = await api.list(EVENTS, namespace="default")
            return [e for e in listed["items"] if e["involvedObject"]["name"] == "confused"]

        [event] = await eventually(reported)
    assert (event["type"], event["reason"]) == ("Warning", "OwnerRefInvalidNamespace")
    assert event["message"].endswith('does not exist in namespace ""')
    assert await api.get(CLUSTER_ROLES, "confused")
