"""The root-ca-cert-publisher against the real API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.controllers.rootcacertpublisher import DESCRIPTION_ANNOTATION
from tests.integration.controllers.harness import eventually, running_controllers

NAMESPACES = built_in("", "v1", "namespaces")
CONFIG_MAPS = built_in("", "v1", "configmaps")
NAME = "kube-root-ca.crt"


async def published(api: ApiClient, namespace: str, ca: str) -> dict[str, Any] | None:
    """The ConfigMap once it holds ``ca`` and the description, else None."""
    try:
        found = await api.get(CONFIG_MAPS, NAME, namespace=namespace)
    except errors.NotFound:
        return None
    annotations = found["metadata"].get("annotations") or {}
    if found.get("data") == {"ca.crt": ca} and annotations.get(DESCRIPTION_ANNOTATION):
        return found
    return None


async def test_every_namespace_gets_the_ca_back_whatever_happens_to_it(api: ApiClient) -> None:
    assert api.config.ca_pem is not None
    ca = api.config.ca_pem.decode()
    await api.create(NAMESPACES, {"metadata": {"name": "before"}})
    async with running_controllers(api, "root-ca-cert-publisher"):
        await eventually(lambda: published(api, "before", ca))
        await eventually(lambda: published(api, "kube-system", ca))
        await api.create(NAMESPACES, {"metadata": {"name": "after"}})
        created = await eventually(lambda: published(api, "after", ca))

        await api.delete(CONFIG_MAPS, NAME, namespace="after")
        recreated = await eventually(lambda: published(api, "after", ca))
        assert recreated["metadata"]["uid"] != created["metadata"]["uid"]

        changed = {**recreated, "data": {"ca.crt": "not a CA"}}
        changed["metadata"] = {**recreated["metadata"], "annotations": {}}
        await api.replace(CONFIG_MAPS, changed)
        restored = await eventually(lambda: published(api, "after", ca))
        assert restored["metadata"]["uid"] == recreated["metadata"]["uid"]


async def test_root_ca_file_wins_over_the_kubeconfig(api: ApiClient, tmp_path: Path) -> None:
    path = tmp_path / "root-ca.pem"
    path.write_text("the root CA\n")
    async with running_controllers(api, "root-ca-cert-publisher", root_ca_file=path):
        await eventually(lambda: published(api, "default", "the root CA\n"))
