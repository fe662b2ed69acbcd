"""ImageLocality: prefer nodes that already hold the pod's container images,
so it starts without pulling them.

A node scores the sizes of the pod's images it has (init containers'
too), each scaled by the share of all nodes that have that image: an image
every node has gives no node an edge, and spreading it adds nothing to
avoid (upstream's "spread factor"). The sum is clamped between 23 MB and
1000 MB per container and mapped linearly onto 0..100, so tiny images
count for nothing and huge ones do not swamp the other plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.images import ImageState
from pynetes.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.node_table import Column, NodeTable, Rows

NAME = "ImageLocality"
_MB = 1024 * 1024
MIN_THRESHOLD = 23 * _MB
MAX_CONTAINER_THRESHOLD = 1000 * _MB

Object = dict[str, Any]


class ImageLocality:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def score(self, _state: CycleState, pod: Object, node: NodeInfo) -> int:
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        total_nodes = len(self._handle.snapshot())
        images = (normalized_image_name(c.get("image") or "") for c in containers)
        present = (node.image_states.get(image) for image in images)
        total = sum(scaled_size(state, total_nodes) for state in present if state is not None)
        return priority(total, len(containers))

    def score_many(self, state: CycleState, pod: Object, table: NodeTable, rows: Rows) -> Column:
        """:meth:`score` for ``rows`` at once: a node holding none of the images
        (every hollow node, most real ones for a new image) scores 0 unasked."""
        infos = table.infos
        return np.fromiter(
            (self.score(state, pod, infos[row]) if infos[row].image_states else 0 for row in rows),
            dtype=np.int64,
            count=len(rows),
        )


def normalized_image_name(name: str) -> str:
    """``name`` with ``:latest`` when it has no tag (a ':' only in the registry's
    port does not count), as node status lists images."""
    if name.rfind(":") <= name.rfind("/"):
        return f"{name}:latest"
    return name


def scaled_size(state: ImageState, total_nodes: int) -> int:
    """The image's size times the share of nodes that have it, truncated."""
    return int(state.size * (state.num_nodes / total_nodes))


def priority(total: int, containers: int) -> int:
    """``total`` clamped to [MIN_THRESHOLD, MAX_CONTAINER_THRESHOLD * containers],
    mapped linearly onto [0, MAX_NODE_SCORE]."""
    highest = MAX_CONTAINER_THRESHOLD * containers
    if total < MIN_THRESHOLD:
        total = MIN_THRESHOLD
    elif total > highest:
        total = highest
    return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (highest - MIN_THRESHOLD)


def new(_args: Mapping[str, Any] | None, handle: Handle) -> ImageLocality:
    return ImageLocality(handle)
