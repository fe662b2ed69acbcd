"""A snapshot's nodes as numpy columns, for filters and scores that judge every
node in one vectorised step instead of one Python call per node.

Row ``i`` is the snapshot's ``i``-th node. The columns hold what the cheap
plugins read (resources, pod counts, whether the node is cordoned or
tainted); a plugin whose answer needs more than the columns (a tainted node,
say) reads ``infos[i]`` for those rows only. The snapshot updates a row in
place when its node changes and rebuilds the table when nodes come or go.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pynetes.scheduler.framework.node_info import NodeInfo

Column = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

Rows = npt.NDArray[np.intp]

#: Taint effects that keep pods out (the others only lower a score).
HARD_TAINT_EFFECTS = frozenset({"NoSchedule", "NoExecute"})

_INT_COLUMNS = (
    "allocatable_cpu",
    "allocatable_memory",
    "allocatable_ephemeral_storage",
    "allowed_pods",
    "requested_cpu",
    "requested_memory",
    "requested_ephemeral_storage",
    "non_zero_cpu",
    "non_zero_memory",
    "pod_count",
)
#: ``unschedulable`` is also set for an info without its Node.
_BOOL_COLUMNS = ("unschedulable", "hard_taints", "soft_taints")


def _row(info: NodeInfo) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    spec = (info.node or {}).get("spec") or {}
    effects = {taint.get("effect") for taint in spec.get("taints") or []}
    numbers = (
        info.allocatable.milli_cpu,
        info.allocatable.memory,
        info.allocatable.ephemeral_storage,
        info.allocatable.allowed_pods,
        info.requested.milli_cpu,
        info.requested.memory,
        info.requested.ephemeral_storage,
        info.non_zero_requested.milli_cpu,
        info.non_zero_requested.memory,
        len(info.pods),
    )
    flags = (
        info.node is None or bool(spec.get("unschedulable")),
        bool(effects & HARD_TAINT_EFFECTS),
        "PreferNoSchedule" in effects,
    )
    return numbers, flags


class NodeTable:
    """Columns (attributes named as in ``_INT_COLUMNS`` and ``_BOOL_COLUMNS``)
    over ``infos``, which the table shares with its snapshot."""

    allocatable_cpu: Column
    allocatable_memory: Column
    allocatable_ephemeral_storage: Column
    allowed_pods: Column
    requested_cpu: Column
    requested_memory: Column
    requested_ephemeral_storage: Column
    non_zero_cpu: Column
    non_zero_memory: Column
    pod_count: Column
    unschedulable: Mask
    hard_taints: Mask
    soft_taints: Mask

    def __init__(self, infos: list[NodeInfo]) -> None:
        self.infos = infos
        rows = [_row(info) for info in infos]
        numbers = np.array([row[0] for row in rows], dtype=np.int64).reshape(
            len(rows), len(_INT_COLUMNS)
        )
        flags = np.array([row[1] for row in rows], dtype=np.bool_).reshape(
            len(rows), len(_BOOL_COLUMNS)
        )
        for index, name in enumerate(_INT_COLUMNS):
            setattr(self, name, numbers[:, index].copy())
        for index, name in enumerate(_BOOL_COLUMNS):
            setattr(self, name, flags[:, index].copy())

    def __len__(self) -> int:
        return len(self.infos)

    def exact(self, flagged: Mask, judge: Callable[[NodeInfo], bool]) -> Mask:
        """True for rows not ``flagged``; ``judge``'s verdict for the flagged ones.

        For plugins whose columns only say "this node might fail": the few
        such nodes get the per-node check, the rest pass without a call.
        """
        verdicts = ~flagged
        for row in np.flatnonzero(flagged).tolist():
            verdicts[row] = judge(self.infos[row])
        return verdicts

    def update(self, index: int, info: NodeInfo) -> None:
        """Row ``index`` now describes ``info`` (the caller put it in ``infos``)."""
        numbers, flags = _row(info)
        for name, value in zip(_INT_COLUMNS, numbers, strict=True):
            getattr(self, name)[index] = value
        for name, flag in zip(_BOOL_COLUMNS, flags, strict=True):
            getattr(self, name)[index] = flag
