"""The scheduler's cache: node infos built from the node and pod informers, plus
the pods it has assumed onto nodes but not yet seen bound.

Assuming a pod as soon as a node is chosen lets the next cycle count its
requests while the Binding is still in flight; when the informer delivers the
bound pod the assumption is confirmed, and if the bind fails it is forgotten.
:meth:`update_snapshot` copies only the node infos that changed since the
last update of the same snapshot (the cache notes which nodes it touched), so
a cycle's snapshot costs O(changed nodes), not O(nodes): at 5,000 nodes a
walk over every node would cost more than the cycle's filtering.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from pynetes.scheduler.framework.images import ImageStates
from pynetes.scheduler.framework.node_info import NodeInfo, next_generation, pod_key
from pynetes.scheduler.framework.snapshot import Snapshot

log = logging.getLogger(__name__)

Object = dict[str, Any]


def assigned_node(pod: Object) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


class SchedulerCache:
    """Node infos by node name (nodes in the order they were added)."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, Object] = {}
        self._assumed: set[str] = set()
        self.images = ImageStates()
        #: Names touched since the last update, in the order first touched (a
        #: dict, so nodes enter a snapshot in a deterministic order).
        self._dirty: dict[str, None] = {}
        self._synced: Snapshot | None = None

    # -- nodes ---------------------------------------------------------------

    def add_node(self, node: Object) -> None:
        """Add or replace the Node, and the images it holds."""
        info = self._info(node["metadata"]["name"])
        self.images.remove_node(info.node)
        info.set_node(node)
        info.image_states = self.images.add_node(node)
        self._touch(node["metadata"]["name"])

    def update_node(self, node: Object) -> None:
        self.add_node(node)

    def remove_node(self, node: Object) -> None:
        """Forget the Node; its info stays while pods still point at it (as upstream)."""
        name = node["metadata"]["name"]
        info = self._nodes.get(name)
        if info is None:
            return
        self.images.remove_node(info.node)
        info.image_states = {}
        self._touch(name)
        if info.pods:
            info.node = None
            info.generation = next_generation()
        else:
            del self._nodes[name]

    # -- pods ----------------------------------------------------------------

    def add_pod(self, pod: Object) -> None:
        """A pod bound to a node; confirms the assumption if this scheduler made one."""
        key = pod_key(pod)
        if key in self._assumed:
            self._assumed.discard(key)
            self._remove(self._pods[key])
        elif key in self._pods:
            self._remove(self._pods[key])
        self._add(pod)

    def update_pod(self, pod: Object) -> None:
        self.add_pod(pod)

    def remove_pod(self, pod: Object) -> None:
        key = pod_key(pod)
        self._assumed.discard(key)
        known = self._pods.get(key)
        if known is not None:
            self._remove(known)

    def assume_pod(self, pod: Object, node_name: str) -> Object:
        """Count ``pod`` on ``node_name`` from now on; returns the assumed copy
        (``spec.nodeName`` set), which the caller binds."""
        assumed = copy.copy(pod)
        assumed["spec"] = {**(pod.get("spec") or {}), "nodeName": node_name}
        key = pod_key(assumed)
        if key in self._pods:
            raise ValueError(f"pod {key} is already in the cache")
        self._add(assumed)
        self._assumed.add(key)
        return assumed

    def forget_pod(self, pod: Object) -> None:
        """Undo :meth:`assume_pod` (the bind failed); a confirmed pod stays."""
        key = pod_key(pod)
        if key in self._assumed:
            self._assumed.discard(key)
            self._remove(self._pods[key])

    def is_assumed(self, pod: Object) -> bool:
        return pod_key(pod) in self._assumed

    # -- snapshots -----------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date: copy changed node infos, drop gone nodes.

        Only the nodes touched since this snapshot's last update are looked
        at; a snapshot this cache did not update last is rebuilt whole.
        Infos without a Node (pods whose node was deleted) are left out:
        nothing can be scheduled there.
        """
        if snapshot is not self._synced:
            snapshot.clear()
            self._dirty = dict.fromkeys(self._nodes)
            self._synced = snapshot
        for name in self._dirty:
            info = self._nodes.get(name)
            if info is None or info.node is None:
                snapshot.remove(name)
                continue
            held = snapshot.node_infos.get(name)
            if held is None or held.generation != info.generation:
                snapshot.put(info.copy())
        self._dirty.clear()

    def node_count(self) -> int:
        return sum(1 for info in self._nodes.values() if info.node is not None)

    # -- internals -----------------------------------------------------------

    def _touch(self, name: str) -> None:
        self._dirty[name] = None

    def _info(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo()
        return info

    def _add(self, pod: Object) -> None:
        node_name = assigned_node(pod)
        self._pods[pod_key(pod)] = pod
        self._info(node_name).add_pod(pod)
        self._touch(node_name)

    def _remove(self, pod: Object) -> None:
        self._pods.pop(pod_key(pod), None)
        info = self._nodes.get(assigned_node(pod))
        if info is None:
            return
        info.remove_pod(pod)
        self._touch(assigned_node(pod))
        if info.node is None and not info.pods:
            del self._nodes[assigned_node(pod)]
