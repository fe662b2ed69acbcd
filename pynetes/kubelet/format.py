"""How the kubelet names pods in its messages, as upstream's ``kubelet/util/format``."""

from __future__ import annotations

from typing import Any


def format_pod(pod: dict[str, Any]) -> str:
    """``name_namespace(uid)``: upstream's ``format.Pod``, found in hook failure messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"
