"""DefaultPreemption: when no node fits a pod, evict lower-priority pods from the
node where that helps most and nominate the pod to it (upstream's
defaultpreemption plugin and framework/preemption evaluator).

The pod is not bound here: its victims terminate gracefully, and the pod is
scheduled again once they are gone, its ``status.nominatedNodeName`` keeping
the room for it meanwhile (see :mod:`pynetes.scheduler.nominator`). Victims
are chosen by what-if filtering on a copy of each node (:mod:`.victims`) and
the node by upstream's criteria (:mod:`.candidates`); PodDisruptionBudgets
are respected where possible, broken only when nothing else helps.

PreFilter extensions: NodeResourcesFit and NodePorts need none, as their
Filters read the node's copy itself. PodTopologySpread and InterPodAffinity
count matching pods across nodes in their PreFilter and do not yet implement
them, so a victim's removal does not lower those counts: preemption never
evicts a pod for their sake (it is never wrong, only sometimes does not help).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetes.scheduler.framework.interface import Handle
from pynetes.scheduler.plugins.default_preemption.plugin import (
    NAME,
    PDBS,
    DefaultPreemption,
)

__all__ = ["NAME", "DefaultPreemption", "new"]


class _NoBudgets:
    """The PodDisruptionBudget lister without informers (tests): there are none."""

    @staticmethod
    def list() -> list[dict[str, Any]]:
        return []


def new(_args: Mapping[str, Any] | None, handle: Handle) -> DefaultPreemption:
    """PodDisruptionBudgets come from an informer started with the scheduler's."""
    if handle.informers is None:
        return DefaultPreemption(handle, _NoBudgets())
    return DefaultPreemption(handle, handle.informers.informer(PDBS).lister)
