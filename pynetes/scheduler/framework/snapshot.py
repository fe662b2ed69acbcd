"""The cluster as one scheduling cycle sees it: node infos frozen for the cycle.

Plugins read only the snapshot, never the live cache, so every node is judged
against the same state even while informers keep delivering changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynetes.scheduler.framework.node_info import NodeInfo


class Snapshot:
    """Node infos by name, in a stable order (the order the cache lists nodes)."""

    def __init__(self, nodes: Iterable[NodeInfo] = ()) -> None:
        self.node_infos: dict[str, NodeInfo] = {}
        self.generation = 0
        for info in nodes:
            self.node_infos[info.name] = info

    def list(self) -> list[NodeInfo]:
        return list(self.node_infos.values())

    def get(self, name: str) -> NodeInfo | None:
        return self.node_infos.get(name)

    def __len__(self) -> int:
        return len(self.node_infos)
