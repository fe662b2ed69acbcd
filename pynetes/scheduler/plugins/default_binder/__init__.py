"""DefaultBinder: binds a pod by POSTing a Binding to ``pods/NAME/binding``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient, resource_path
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.framework.status import Status

NAME = "DefaultBinder"
PODS = built_in("", "v1", "pods")

Object = dict[str, Any]


class DefaultBinder:
    name = NAME

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def bind(self, _state: CycleState, pod: Object, node_name: str) -> Status:
        """The Binding carries the pod's UID, so a pod deleted and recreated under
        the same name in the meantime is not bound by mistake."""
        meta = pod.get("metadata") or {}
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        path = resource_path(PODS, meta.get("namespace"), meta.get("name"), "binding")
        try:
            await self.client.request("POST", path, body=binding)
        except errors.ApiError as error:
            return st.error(f"binding rejected: {error}")
        return st.success()


def new(_args: Mapping[str, Any] | None, handle: Handle) -> DefaultBinder:
    if handle.client is None:
        raise ValueError("DefaultBinder needs an API client")
    return DefaultBinder(handle.client)
