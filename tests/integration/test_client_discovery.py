"""pynetes.client.discovery against the real API server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from pynetes.api.resources import Resource, built_in
from pynetes.client.config import load_config
from pynetes.client.discovery import preferred_resources
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually
from tests.integration.controllers.widgets import widget_crd


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


async def test_built_in_resources_are_the_built_in_objects_without_subresources(
    api: ApiClient,
) -> None:
    discovery = await preferred_resources(api)
    assert discovery.failed == {}
    assert built_in("", "v1", "pods") in discovery.resources
    assert built_in("apps", "v1", "deployments") in discovery.resources
    assert all("/" not in resource.plural for resource in discovery.resources)
    deletable = discovery.supporting("delete", "list", "watch")
    assert built_in("", "v1", "namespaces") in deletable
    assert all(resource.plural != "bindings" for resource in deletable)
    assert discovery.by_kind()[("apps", "ReplicaSet")] == built_in("apps", "v1", "replicasets")


async def test_custom_resources_appear_once_served(api: ApiClient) -> None:
    await widget_crd(api, scale=False)

    async def widgets() -> Resource | None:
        return (await preferred_resources(api)).by_kind().get(("example.com", "Widget"))

    widget = await eventually(widgets)
    assert (widget.plural, widget.version, widget.namespaced) == ("widgets", "v1", True)
    assert "deletecollection" in widget.verbs
