"""A snapshot's nodes as numpy columns, for filters and scores that judge every
node in one vectorised step instead of one Python call per node.

Row ``i`` is the snapshot's ``i``-th node. The columns hold what the cheap
plugins read (resources, pod counts, whether the node is cordoned or
tainted); a plugin whose answer needs more than the columns (a tainted node,
say) reads ``infos[i]`` for those rows only. The snapshot updates a row in
place when its node changes and rebuilds the table when nodes come or go.

Two things are kept for the plugins that count pods per topology domain
(PodTopologySpread, InterPodAffinity): each topology key's domain per node
(:meth:`NodeTable.domains`), and per-node counts of pods a plugin asked about
(:attr:`NodeTable.counts`), which survive from cycle to cycle and are
recounted only on the nodes that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pynetes.scheduler.framework.node_info import NodeInfo
from pynetes.scheduler.framework.row_counts import RowCounts
from pynetes.scheduler.plugins.helpers.node_selector import node_labels

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
    "pods_with_affinity",
    "pods_with_required_anti_affinity",
    "generation",
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
        info.pods_with_affinity,
        info.pods_with_required_anti_affinity,
        info.generation,
    )
    flags = (
        info.node is None or bool(spec.get("unschedulable")),
        bool(effects & HARD_TAINT_EFFECTS),
        "PreferNoSchedule" in effects,
    )
    return numbers, flags


#: ``Domains.ids`` of a node without the topology key.
NO_DOMAIN = -1


@dataclass
class Domains:
    """Topology key ``key``'s values over the table: ``ids[row]`` is the
    position in ``values`` of the row's value (:data:`NO_DOMAIN` if the node
    lacks the key); ``index`` maps a value back. Values are only ever added,
    so an id stays meaningful while the table lives (a value no node has any
    more simply matches no row). Arrays "per domain" are indexed by id."""

    key: str
    ids: Column
    values: list[str]
    index: dict[str, int]

    @classmethod
    def of(cls, key: str, infos: list[NodeInfo]) -> Domains:
        domains = cls(key, np.full(len(infos), NO_DOMAIN, dtype=np.int64), [], {})
        for row, info in enumerate(infos):
            domains.assign(row, node_labels(info.node).get(key))
        return domains

    def assign(self, row: int, value: str | None) -> None:
        """Row ``row``'s node now has ``value`` (None: no such label)."""
        self.ids[row] = NO_DOMAIN if value is None else self.id_of(value)

    def id_of(self, value: str) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found

    def per_row(self, per_domain: npt.NDArray[Any], rows: Rows | None = None) -> npt.NDArray[Any]:
        """``per_domain``'s entry for the domain of each row (of ``rows``, if
        given); zero (False) for rows without the key."""
        ids = self.ids if rows is None else self.ids[rows]
        padded = np.concatenate((per_domain, np.zeros(1, dtype=per_domain.dtype)))
        return padded[ids]  # NO_DOMAIN (-1) picks the zero at the end

    def at(self, per_domain: npt.NDArray[Any], labels: Mapping[str, str]) -> Any:
        """``per_domain``'s entry for the domain of a node with ``labels``; zero
        (False) when they lack the key or have a value no row had."""
        value = labels.get(self.key)
        found = None if value is None else self.index.get(value)
        if found is None or found >= len(per_domain):
            return per_domain.dtype.type(0)
        return per_domain[found]


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
    pods_with_affinity: Column
    pods_with_required_anti_affinity: Column
    #: The info's generation: equal generations mean equal contents, so
    #: :attr:`counts` recounts only the rows whose generation moved.
    generation: Column
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
        self._domains: dict[str, Domains] = {}
        self._rows: dict[str, int] = {}
        self.counts = RowCounts(self)

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

    def domains(self, key: str) -> Domains:
        """Each row's domain of topology key ``key``, worked out once per table
        and kept up to date by :meth:`update`."""
        found = self._domains.get(key)
        if found is None:
            found = self._domains[key] = Domains.of(key, self.infos)
        return found

    def rows_of(self, infos: Iterable[NodeInfo]) -> Rows:
        """The rows of ``infos`` (nodes of this table), by their names."""
        if not self._rows:
            self._rows = {info.name: row for row, info in enumerate(self.infos)}
        return np.fromiter((self._rows[info.name] for info in infos), dtype=np.intp)

    def update(self, index: int, info: NodeInfo) -> None:
        """Row ``index`` now describes ``info`` (the caller put it in ``infos``;
        it names the same node as before)."""
        numbers, flags = _row(info)
        for name, value in zip(_INT_COLUMNS, numbers, strict=True):
            getattr(self, name)[index] = value
        for name, flag in zip(_BOOL_COLUMNS, flags, strict=True):
            getattr(self, name)[index] = flag
        if self._domains:
            labels = node_labels(info.node)
            for key, domains in self._domains.items():
                domains.assign(index, labels.get(key))
