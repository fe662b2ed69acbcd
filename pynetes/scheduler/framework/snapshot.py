"""The cluster as one scheduling cycle sees it: node infos frozen for the cycle.

Plugins read only the snapshot, never the live cache, so every node is judged
against the same state even while informers keep delivering changes.

The list of nodes and their :class:`NodeTable` are kept between cycles: a
changed node replaces its entry and its table row in place, so a cycle does
not pay O(nodes) to get them; nodes coming or going rebuild both lazily.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import NodeTable


class Snapshot:
    """Node infos by name, in a stable order (the order they were put in)."""

    def __init__(self, nodes: Iterable[NodeInfo] = ()) -> None:
        self.node_infos: dict[str, NodeInfo] = {}
        self._list: list[NodeInfo] | None = None
        self._index: dict[str, int] = {}
        self._table: NodeTable | None = None
        #: Nodes running pods with required anti-affinity (upstream's
        #: havePodsWithRequiredAntiAffinityNodeInfoList): every pod must check
        #: them, and finding them by walking every node cost 0.6 ms a cycle.
        self._anti_affinity: set[str] = set()
        for info in nodes:
            self.put(info)

    def put(self, info: NodeInfo) -> None:
        """Add ``info``, or replace the info of the same node (keeping its place)."""
        replaced = info.name in self.node_infos
        self.node_infos[info.name] = info
        if info.pods_with_required_anti_affinity:
            self._anti_affinity.add(info.name)
        else:
            self._anti_affinity.discard(info.name)
        if not replaced or self._list is None:
            self._invalidate()
            return
        index = self._index[info.name]
        self._list[index] = info
        if self._table is not None:
            self._table.update(index, info)

    def remove(self, name: str) -> None:
        self._anti_affinity.discard(name)
        if self.node_infos.pop(name, None) is not None:
            self._invalidate()

    def clear(self) -> None:
        self.node_infos.clear()
        self._anti_affinity.clear()
        self._invalidate()

    @property
    def has_required_anti_affinity(self) -> bool:
        """Whether any node runs a pod with required anti-affinity."""
        return bool(self._anti_affinity)

    def list(self) -> list[NodeInfo]:
        """Every node info, in order; shared between calls: do not change it."""
        if self._list is None:
            self._list = list(self.node_infos.values())
            self._index = {info.name: index for index, info in enumerate(self._list)}
        return self._list

    def table(self) -> NodeTable:
        """The nodes as columns, row ``i`` being ``list()[i]``."""
        if self._table is None:
            self._table = NodeTable(self.list())
        return self._table

    def get(self, name: str) -> NodeInfo | None:
        return self.node_infos.get(name)

    def __len__(self) -> int:
        return len(self.node_infos)

    def _invalidate(self) -> None:
        self._list = None
        if self._table is not None:
            self._table.counts.clear()
        self._table = None


def table_for(snapshot: Snapshot, nodes: list[NodeInfo]) -> NodeTable:
    """The snapshot's table when ``nodes`` is its node list, as in every
    scheduling cycle; otherwise a table of ``nodes`` alone (a plugin asked
    about other nodes, as in tests)."""
    return snapshot.table() if nodes is snapshot.list() else NodeTable(nodes)
