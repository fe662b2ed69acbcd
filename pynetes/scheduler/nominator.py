"""Pods nominated to nodes by preemption (upstream's nominator).

A preemptor waits for its victims to go; meanwhile its
``status.nominatedNodeName`` reserves the room it made: the framework counts
each nominated pod on its node when filtering pods of lower or equal
priority, so they do not take that room first. The scheduler keeps this in
step with the pods it sees: a nomination ends when the pod is bound (or
assumed), deleted, or its nominatedNodeName is cleared.
"""

from __future__ import annotations

from typing import Any

from pynetes.scheduler.framework.node_info import PodInfo, pod_key

Object = dict[str, Any]


def nominated_node_name(pod: Object) -> str:
    return (pod.get("status") or {}).get("nominatedNodeName") or ""


class Nominator:
    """Nominated pods by node name, and each pod's node by pod key."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add(self, pod: Object, node_name: str = "") -> None:
        """Nominate ``pod`` to ``node_name`` (default: its nominatedNodeName),
        replacing any earlier nomination; nothing if there is no node."""
        self.delete(pod)
        node_name = node_name or nominated_node_name(pod)
        if not node_name:
            return
        key = pod_key(pod)
        self._by_node.setdefault(node_name, {})[key] = PodInfo.of(pod)
        self._node_of[key] = node_name

    def update(self, old: Object, new: Object) -> None:
        """A pending pod changed. An update that says nothing of a nomination
        keeps the one made here before the API heard of it (upstream's
        UpdateNominatedPod), so an update already in flight does not undo it."""
        node_name = self._node_of.get(pod_key(new), "")
        if nominated_node_name(old) or nominated_node_name(new):
            node_name = nominated_node_name(new)
        if node_name:
            self.add(new, node_name)
        else:
            self.delete(new)

    def delete(self, pod: Object) -> None:
        """Forget ``pod``'s nomination, if it has one."""
        key = pod_key(pod)
        node_name = self._node_of.pop(key, None)
        if node_name is None:
            return
        pods = self._by_node[node_name]
        del pods[key]
        if not pods:
            del self._by_node[node_name]

    def pods_on(self, node_name: str) -> list[PodInfo]:
        """The pods nominated to ``node_name`` (a copy)."""
        return list(self._by_node.get(node_name, {}).values())

    def __bool__(self) -> bool:
        return bool(self._node_of)
