"""How the kubelet names pods in its messages (upstream's ``kubelet/util/format``) and
refers to their containers in Events."""

from __future__ import annotations

from typing import Any

from pynetes.client.events import object_reference

Object = dict[str, Any]


def format_pod(pod: dict[str, Any]) -> str:
    """``name_namespace(uid)``: upstream's ``format.Pod``, found in hook failure messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def container_reference(pod: Object, container_name: str) -> Object:
    """An ObjectReference to one container of ``pod``, as upstream's ``GenerateContainerRef``."""
    spec = pod.get("spec") or {}
    field = next(
        (
            key
            for key in ("initContainers", "ephemeralContainers")
            if any(c.get("name") == container_name for c in spec.get(key) or ())
        ),
        "containers",
    )
    return object_reference(
        {**pod, "kind": "Pod", "apiVersion": "v1"}, f"spec.{field}{{{container_name}}}"
    )
