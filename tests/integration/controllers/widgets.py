"""A custom resource for controller tests: ``widgets.example.com``, with or without scale."""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.controllers.harness import eventually

CRDS = built_in("apiextensions.k8s.io", "v1", "customresourcedefinitions")
WIDGETS = Resource("example.com", "v1", "Widget", "widgets", True)


async def widget_crd(api: ApiClient, *, scale: bool) -> None:
    """Define Widgets (with a ``scale`` over ``spec.replicas`` if asked); wait until served."""
    subresources: dict[str, Any] = {"status": {}}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
        }
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "subresources": subresources,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
    }
    crd = {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [version],
        },
    }
    await api.create(CRDS, crd)

    async def served() -> bool:
        try:
            await api.list(WIDGETS, namespace="default")
        except errors.NotFound:
            return False
        return True

    await eventually(served)


async def widget(api: ApiClient, name: str, replicas: int, namespace: str = "default") -> dict:
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }
    return await api.create(WIDGETS, body)
