"""Claiming pods by controller reference, against the real API server's strategic merge patch."""

from __future__ import annotations

from pynetes.api.labels import selector_from_set
from pynetes.api.meta import controller_of
from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.common.ownership import (
    ControllerRefManager,
    owner_still_adoptable,
)

PODS = built_in("", "v1", "pods")
CONFIG_MAPS = built_in("", "v1", "configmaps")
CONTAINERS = [{"name": "c", "image": "busybox"}]


async def make_pod(api: ApiClient, name: str, labels: dict, owners: list | None = None) -> dict:
    metadata = {"name": name, "labels": labels, "ownerReferences": owners or []}
    return await api.create(
        PODS, {"metadata": metadata, "spec": {"containers": CONTAINERS}}, namespace="default"
    )


def manager(api: ApiClient, owner: dict) -> ControllerRefManager:
    return ControllerRefManager(
        api,
        PODS,
        owner,
        "v1",
        "ConfigMap",
        selector_from_set({"app": "web"}),
        owner_still_adoptable(api, CONFIG_MAPS, owner),
    )


async def test_claims_own_adopts_orphans_releases_mismatches_and_leaves_others(
    api: ApiClient,
) -> None:
    # a ConfigMap stands in for any owner kind: ownership is kind-agnostic
    owner = await api.create(CONFIG_MAPS, {"metadata": {"name": "owner"}}, namespace="default")
    other = await api.create(CONFIG_MAPS, {"metadata": {"name": "other"}}, namespace="default")
    mine = manager(api, owner)
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    foreign = {**reference, "name": "other", "uid": other["metadata"]["uid"]}
    side_owner = {**foreign, "controller": False}
    pods = [
        await make_pod(api, "orphan", {"app": "web"}, [side_owner]),
        await make_pod(api, "owned", {"app": "web"}, [reference]),
        await make_pod(api, "strayed", {"app": "db"}, [reference]),
        await make_pod(api, "taken", {"app": "web"}, [foreign]),
        await make_pod(api, "unrelated", {"app": "db"}),
    ]

    claimed = await mine.claim(pods)

    assert sorted(p["metadata"]["name"] for p in claimed) == ["orphan", "owned"]
    orphan = await api.get(PODS, "orphan", namespace="default")
    assert controller_of(orphan)["uid"] == owner["metadata"]["uid"]
    assert len(orphan["metadata"]["ownerReferences"]) == 2, "other owners are kept"
    strayed = await api.get(PODS, "strayed", namespace="default")
    assert not strayed["metadata"].get("ownerReferences")
    taken = await api.get(PODS, "taken", namespace="default")
    assert controller_of(taken)["uid"] == other["metadata"]["uid"]


async def test_an_owner_being_replaced_adopts_nothing(api: ApiClient) -> None:
    owner = await api.create(CONFIG_MAPS, {"metadata": {"name": "owner"}}, namespace="default")
    await api.delete(CONFIG_MAPS, "owner", namespace="default")
    await api.create(CONFIG_MAPS, {"metadata": {"name": "owner"}}, namespace="default")
    orphan = await make_pod(api, "orphan", {"app": "web"})

    assert await manager(api, owner).claim([orphan]) == []
    fresh = await api.get(PODS, "orphan", namespace="default")
    assert not fresh["metadata"].get("ownerReferences")


async def test_a_replaced_pod_is_not_adopted_by_name(api: ApiClient) -> None:
    owner = await api.create(CONFIG_MAPS, {"metadata": {"name": "owner"}}, namespace="default")
    stale = await make_pod(api, "orphan", {"app": "web"})
    await api.delete(PODS, "orphan", namespace="default", grace_period_seconds=0)
    await make_pod(api, "orphan", {"app": "web"})

    assert await manager(api, owner).claim([stale]) == []
    fresh = await api.get(PODS, "orphan", namespace="default")
    assert not fresh["metadata"].get("ownerReferences")
