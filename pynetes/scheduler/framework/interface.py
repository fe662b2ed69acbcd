"""What a plugin may implement, one protocol per extension point (upstream's
framework.Plugin interfaces), and the handle a plugin is built with.

A plugin is any object with a ``name``; the runner learns which extension
points it serves by the methods it has (``isinstance`` on these runtime
protocols), so one plugin enabled under ``multiPoint`` joins every point it
implements. Filters and scores are plain functions called once per node and
must not block; the API-facing points (PostFilter, PreBind, Bind, PostBind)
are coroutines.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo
from pynetes.scheduler.framework.snapshot import Snapshot
from pynetes.scheduler.framework.status import Status
from pynetes.scheduler.nominator import Nominator

Object = dict[str, Any]

#: Upstream's MaxNodeScore and MinNodeScore: a Score plugin's normalized range.
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class ActionType(enum.Flag):
    """What happened to an object, for :class:`ClusterEvent`."""

    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE = enum.auto()
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True)
class ClusterEvent:
    """A kind of change (``resource`` "Node" or "Pod") that could make a rejected pod fit."""

    resource: str
    action: ActionType

    def matches(self, other: ClusterEvent) -> bool:
        return self.resource == other.resource and bool(self.action & other.action)


@dataclass(frozen=True)
class PreFilterResult:
    """The only nodes worth filtering (None: all of them)."""

    node_names: frozenset[str] | None = None


class FilterRunner(Protocol):
    """What a PostFilter needs of its framework for what-if filtering."""

    def run_filter_with_nominated_pods(
        self, state: CycleState, pod: Object, node: NodeInfo
    ) -> Status: ...

    def run_add_pod(
        self, state: CycleState, pod: Object, added: PodInfo, node: NodeInfo
    ) -> None: ...

    def run_remove_pod(
        self, state: CycleState, pod: Object, removed: PodInfo, node: NodeInfo
    ) -> None: ...


@dataclass
class Handle:
    """What plugins are built with: the API client, the cycle's snapshot, and the
    scheduler's informers (None in tests), from which a plugin that needs other
    objects (namespaces' labels, say) asks for an informer while it is built, so
    that it starts and syncs with the scheduler's own. ``nominator`` holds the
    pods preemption nominated (None: none are counted); ``recorder`` writes
    the profile's events (None in tests); ``framework`` is the profile's
    framework, set when it is built (upstream's Handle is the framework itself),
    for plugins that filter what-ifs."""

    client: ApiClient | None
    snapshot: Callable[[], Snapshot]
    informers: SharedInformerFactory | None = None
    nominator: Nominator | None = None
    recorder: EventRecorder | None = None
    framework: FilterRunner | None = None


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """Whether ``a`` should be scheduled before ``b``."""


@runtime_checkable
class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> list[ClusterEvent]:
        """The changes that could make a pod this plugin rejected fit."""


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """Once per pod before filtering: Skip drops this plugin's Filter for the
        cycle; a rejection rejects every node."""


@runtime_checkable
class PreFilterExtensions(Plugin, Protocol):
    """A PreFilter whose cycle state depends on other pods (upstream's
    PreFilterExtensions): told when a what-if adds or removes a pod on a node,
    so its Filter judges the changed node. Plugins whose Filter reads only the
    NodeInfo need not implement it: the what-if changes the NodeInfo itself."""

    def add_pod(self, state: CycleState, pod: Object, added: PodInfo, node: NodeInfo) -> None:
        """``added`` now runs on ``node`` (already in its pods) for ``pod``'s filters."""

    def remove_pod(self, state: CycleState, pod: Object, removed: PodInfo, node: NodeInfo) -> None:
        """``removed`` no longer runs on ``node`` (already gone from its pods)."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Object, node: NodeInfo) -> Status:
        """Whether ``node`` can run ``pod``: Success, or a rejection with reasons."""


@runtime_checkable
class VectorFilterPlugin(Plugin, Protocol):
    def filter_many(self, state: CycleState, pod: Object, table: NodeTable) -> Mask | None:
        """For every row of ``table``, exactly whether :meth:`FilterPlugin.filter`
        succeeds; None when this pod needs the per-node path."""


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(
        self, state: CycleState, pod: Object, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status]:
        """After no node fit: make room somewhere (a nominated node name) or not."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: Object, nodes: list[NodeInfo]) -> Status:
        """Once per pod before scoring the feasible ``nodes``: Skip drops its Score."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: Object, node: NodeInfo) -> int:
        """A raw score for ``node``; in [0, MAX_NODE_SCORE] unless normalized."""


@runtime_checkable
class VectorScorePlugin(Plugin, Protocol):
    def score_many(
        self, state: CycleState, pod: Object, table: NodeTable, rows: Rows
    ) -> Column | None:
        """Exactly :meth:`ScorePlugin.score` for each of ``rows``; None when this
        pod needs the per-node path. A ScoreNormalizer must also be a
        :class:`VectorScoreNormalizer`."""


@runtime_checkable
class VectorScoreNormalizer(Plugin, Protocol):
    def normalize_many(self, state: CycleState, pod: Object, scores: Column) -> Column:
        """What :meth:`ScoreNormalizer.normalize_scores` makes of ``scores``."""


@runtime_checkable
class ScoreNormalizer(Plugin, Protocol):
    def normalize_scores(self, state: CycleState, pod: Object, scores: dict[str, int]) -> None:
        """Bring every raw score (by node name) into [0, MAX_NODE_SCORE], in place."""


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: Object, node_name: str) -> Status:
        """Hold what the pod needs on ``node_name`` before binding."""

    def unreserve(self, state: CycleState, pod: Object, node_name: str) -> None:
        """Undo :meth:`reserve` (binding failed or a later plugin rejected); idempotent."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: Object, node_name: str) -> Status: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: Object, node_name: str) -> Status:
        """Bind the pod, or Skip to let the next Bind plugin do it."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    async def post_bind(self, state: CycleState, pod: Object, node_name: str) -> None: ...
