"""Every namespace carries ``kubernetes.io/metadata.name`` equal to its name, as upstream
keeps it: NetworkPolicies and webhooks select namespaces by it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import orjson
import pytest

from pynetes.api.resources import ResourceRegistry
from pynetes.apiserver.app import SYSTEM_NAMESPACES
from pynetes.client.config import load_kubeconfig
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster, Restartable

NAMESPACES = ResourceRegistry().lookup("", "v1", "namespaces")
LABEL = "kubernetes.io/metadata.name"


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_kubeconfig(cluster.kubeconfig), qps=0)
    async with ApiClient.from_config(config) as api:
        yield api


def labels_of(namespace: dict) -> dict[str, str]:
    return namespace["metadata"].get("labels") or {}


async def test_system_and_generated_namespaces_are_labelled(client: ApiClient) -> None:
    for name in SYSTEM_NAMESPACES:
        assert labels_of(await client.get(NAMESPACES, name))[LABEL] == name

    generated = await client.create(NAMESPACES, {"metadata": {"generateName": "team-"}})
    name = generated["metadata"]["name"]
    assert name.startswith("team-") and labels_of(generated)[LABEL] == name
    assert labels_of(await client.get(NAMESPACES, name))[LABEL] == name


async def test_the_label_follows_the_name_whatever_a_client_sends(client: ApiClient) -> None:
    created = await client.create(
        NAMESPACES, {"metadata": {"name": "shop", "labels": {LABEL: "other", "team": "a"}}}
    )
    assert labels_of(created) == {LABEL: "shop", "team": "a"}

    patched = await client.patch(NAMESPACES, "shop", {"metadata": {"labels": {LABEL: "x"}}})
    assert labels_of(patched)[LABEL] == "shop"
    removed = await client.patch(NAMESPACES, "shop", {"metadata": {"labels": {LABEL: None}}})
    assert labels_of(removed) == {LABEL: "shop", "team": "a"}

    replaced = dict(removed, metadata={**removed["metadata"], "labels": {"team": "b"}})
    assert labels_of(await client.replace(NAMESPACES, replaced)) == {
        LABEL: "shop",
        "team": "b",
    }
    selected = await client.list(NAMESPACES, label_selector=f"{LABEL}=shop")
    assert [item["metadata"]["name"] for item in selected["items"]] == ["shop"]


async def test_namespaces_stored_without_the_label_get_it_at_start(
    restartable: Restartable,
) -> None:
    """A data directory from before the label was kept: the server labels its namespaces."""
    store = next(s for r, s in restartable.server.stores.items() if r.plural == "namespaces")
    old = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}}
    await store.storage.create(store.resource.storage_key("", "legacy"), orjson.dumps(old))

    await restartable.restart()

    async with ApiClient(restartable.client_config()) as client:
        legacy = await client.get(NAMESPACES, "legacy")
        assert labels_of(legacy) == {LABEL: "legacy"}
        assert labels_of(await client.get(NAMESPACES, "default"))[LABEL] == "default"
