"""Per-node counts that outlive a scheduling cycle: how many of a node's pods
a plugin's question selects, recounted only where the node changed.

Counting a selector's pods on every node costs O(pods) a cycle; between two
cycles usually one node changed (the pod just assumed). A node's
:class:`NodeInfo` generation changes with anything on it (its labels, a pod
coming, going or changing), so a count taken at one generation holds as long
as the generation does. The counts live with their :class:`NodeTable` and go
when the snapshot rebuilds it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pynetes.scheduler.framework.node_info import NodeInfo
    from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable

#: Counts one node: a number per channel (absent channels count 0).
CountRow = Callable[["NodeInfo"], Mapping[Hashable, int]]

#: How many questions' counts are kept (the least recently asked go first).
MAX_KEPT = 64
#: A generation no info has: the row was never counted.
_NEVER = -1


@dataclass
class _Counted:
    generations: Column
    channels: dict[Hashable, Column] = field(default_factory=dict)


class RowCounts:
    """Counts per node and channel, by question."""

    def __init__(self, table: NodeTable) -> None:
        self._table = table
        self._kept: OrderedDict[Hashable, _Counted] = OrderedDict()

    def __call__(
        self, key: Hashable | None, count_row: CountRow, candidates: Mask | None = None
    ) -> Mapping[Hashable, Column]:
        """``count_row`` of every row, one column per channel it ever named.

        ``key`` identifies the question: ``count_row``'s answer for a node must
        depend on nothing but the node's info and what ``key`` stands for
        (None: not kept, counted afresh). ``count_row`` is called only for
        ``candidates`` rows (all if None); the others count 0 in every channel,
        so they must be rows for which it would say so.
        """
        table = self._table
        counted = self._kept.get(key) if key is not None else None
        if counted is None:
            counted = _Counted(np.full(len(table), _NEVER, dtype=np.int64))
            if key is not None:
                self._kept[key] = counted
                if len(self._kept) > MAX_KEPT:
                    self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(key)
        stale = np.flatnonzero(counted.generations != table.generation)
        if stale.size:
            self._recount(counted, stale, count_row, candidates)
        return counted.channels

    def clear(self) -> None:
        """Forget every count: the table is being replaced (decisions kept for
        explanations may still hold it, and need none of this)."""
        self._kept.clear()

    def column(
        self, key: Hashable | None, count_one: Callable[[NodeInfo], int], candidates: Mask | None
    ) -> Column:
        """:meth:`__call__` for a question with one number per node."""
        found = self(key, lambda info: {None: count_one(info)}, candidates).get(None)
        return found if found is not None else np.zeros(len(self._table), dtype=np.int64)

    def _recount(
        self, counted: _Counted, stale: np.ndarray, count_row: CountRow, candidates: Mask | None
    ) -> None:
        table = self._table
        for column in counted.channels.values():
            column[stale] = 0
        rows = stale if candidates is None else stale[candidates[stale]]
        for row in rows.tolist():
            for channel, count in count_row(table.infos[row]).items():
                column = counted.channels.get(channel)
                if column is None:
                    column = counted.channels[channel] = np.zeros(len(table), dtype=np.int64)
                column[row] = count
        counted.generations[stale] = table.generation[stale]
