"""The serviceaccount controller against the real API server."""

from __future__ import annotations

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.controllers.harness import eventually, running_controllers

NAMESPACES = built_in("", "v1", "namespaces")
SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")


async def default_account(api: ApiClient, namespace: str) -> dict | None:
    try:
        return await api.get(SERVICE_ACCOUNTS, "default", namespace=namespace)
    except errors.NotFound:
        return None


async def test_every_namespace_gets_a_default_account_and_keeps_it(api: ApiClient) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "before"}})
    async with running_controllers(api, "serviceaccount"):
        await eventually(lambda: default_account(api, "before"))
        await eventually(lambda: default_account(api, "kube-system"))
        await api.create(NAMESPACES, {"metadata": {"name": "after"}})
        created = await eventually(lambda: default_account(api, "after"))

        await api.delete(SERVICE_ACCOUNTS, "default", namespace="after")
        recreated = await eventually(lambda: default_account(api, "after"))
        assert recreated["metadata"]["uid"] != created["metadata"]["uid"]
