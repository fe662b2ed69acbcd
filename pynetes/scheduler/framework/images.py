"""Which container images the nodes hold (their ``status.images``), for
ImageLocality: each image's size and the nodes that have it.

One :class:`ImageState` per image name is shared by every node listing it,
so how many nodes have an image is always current, without touching the
other nodes' infos when one node changes (upstream freezes that count in
each node's snapshot copy, so it can lag behind; a live count cannot).
Every name an image is known by (tag and digest) maps to the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass
class ImageState:
    """An image's size in bytes and the names of the nodes that have it."""

    size: int
    nodes: set[str] = field(default_factory=set)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)


class ImageStates:
    """Every image on any node, by name (upstream's cache.imageStates)."""

    def __init__(self) -> None:
        self._states: dict[str, ImageState] = {}

    def add_node(self, node: Object) -> dict[str, ImageState]:
        """Record ``node``'s images; returns them by name for its NodeInfo.

        An image already known keeps its first reported size, as upstream.
        """
        name = node["metadata"]["name"]
        held: dict[str, ImageState] = {}
        for image in _images(node):
            for image_name in image.get("names") or []:
                state = self._states.get(image_name)
                if state is None:
                    state = self._states[image_name] = ImageState(int(image.get("sizeBytes") or 0))
                state.nodes.add(name)
                held.setdefault(image_name, state)
        return held

    def remove_node(self, node: Object | None) -> None:
        """Forget ``node``'s images (no-op for None); an image no node has goes."""
        if node is None:
            return
        name = node["metadata"]["name"]
        for image in _images(node):
            for image_name in image.get("names") or []:
                state = self._states.get(image_name)
                if state is None:
                    continue
                state.nodes.discard(name)
                if not state.nodes:
                    del self._states[image_name]

    def __len__(self) -> int:
        return len(self._states)


def _images(node: Object) -> list[Object]:
    return (node.get("status") or {}).get("images") or []
