"""The framework of one profile: its plugins per extension point, and the
runners the scheduler calls in each cycle (upstream's frameworkImpl).

Filters stop at a node's first rejection, as upstream: the FailedScheduling
message counts one plugin's reasons per node. Scores are normalized per
plugin, checked to lie in [0, 100], multiplied by the plugin's weight and
summed per node; the per-plugin scores are kept for explanations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynetes.scheduler.config import ConfigError, PluginRef, Profile
from pynetes.scheduler.framework import status as st
from pynetes.scheduler.framework.cycle_state import CycleState
from pynetes.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    ActionType,
    BindPlugin,
    ClusterEvent,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    Plugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScoreNormalizer,
    ScorePlugin,
    VectorFilterPlugin,
    VectorScoreNormalizer,
    VectorScorePlugin,
)
from pynetes.scheduler.framework.node_info import NodeInfo, PodInfo, pod_key, pod_priority
from pynetes.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from pynetes.scheduler.framework.queued_pod_info import QueuedPodInfo
from pynetes.scheduler.framework.registry import Registry
from pynetes.scheduler.framework.status import Status

Object = dict[str, Any]

#: Each configurable extension point and the protocol its plugins implement.
_POINTS: dict[str, type] = {
    "queueSort": QueueSortPlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "preBind": PreBindPlugin,
    "bind": BindPlugin,
    "postBind": PostBindPlugin,
}


@dataclass
class NodeScores:
    """A node's total and each Score plugin's weighted share of it."""

    total: int = 0
    by_plugin: dict[str, int] = field(default_factory=dict)


class ScoreColumns(Mapping[str, NodeScores]):
    """Weighted scores of ``rows`` of ``table`` as numpy columns, read as
    ``{node name: NodeScores}``. Names and NodeScores are only built when
    asked for (explanations), not for every node in every cycle."""

    def __init__(self, table: NodeTable, rows: Rows) -> None:
        self.table = table
        self.rows = rows
        self.total: Column = np.zeros(len(rows), dtype=np.int64)
        self.by_plugin: dict[str, Column] = {}
        self._index: dict[str, int] = {}

    def name(self, index: int) -> str:
        """The name of the ``index``-th scored node."""
        return self.table.infos[int(self.rows[index])].name

    @property
    def names(self) -> list[str]:
        return [self.table.infos[row].name for row in self.rows.tolist()]

    def add(self, plugin: str, weighted: Column) -> None:
        self.by_plugin[plugin] = weighted
        self.total += weighted

    def __getitem__(self, name: str) -> NodeScores:
        if not self._index:
            self._index = {name: index for index, name in enumerate(self.names)}
        index = self._index[name]
        by_plugin = {plugin: int(column[index]) for plugin, column in self.by_plugin.items()}
        return NodeScores(int(self.total[index]), by_plugin)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class Framework:
    """One profile's plugins, ready to run. ConfigError if the profile names a
    plugin nobody registered, or lacks a QueueSort or Bind plugin."""

    def __init__(self, profile: Profile, registry: Registry, handle: Handle) -> None:
        self.profile_name = profile.scheduler_name
        self.nominator = handle.nominator
        handle.framework = self
        self.plugins = _instantiate(profile, registry, handle)
        self.points: dict[str, list[Plugin]] = {}
        self.weights: dict[str, int] = {}
        for point, protocol in _POINTS.items():
            refs = _resolve(profile, point, self.plugins, protocol)
            self.points[point] = [self.plugins[ref.name] for ref in refs]
            if point == "score":
                self.weights = {ref.name: ref.weight or 1 for ref in refs}
        where = f"profile {profile.scheduler_name!r}"
        # The vectorised forms, worked out once: isinstance on a runtime
        # protocol costs microseconds, too much to ask every cycle.
        self._vector_filters = self._names_of(VectorFilterPlugin)
        self._normalizers = self._names_of(ScoreNormalizer)
        vector_scores = self._names_of(VectorScorePlugin)
        vector_normalizers = self._names_of(VectorScoreNormalizer)
        self._vector_scores = {
            name
            for name in vector_scores
            if name not in self._normalizers or name in vector_normalizers
        }
        if len(self.points["queueSort"]) != 1:
            raise ConfigError(f"{where}: plugins.queueSort: exactly one plugin is required")
        if not self.points["bind"]:
            raise ConfigError(f"{where}: plugins.bind: at least one plugin is required")

    def _names_of(self, protocol: type) -> set[str]:
        return {name for name, plugin in self.plugins.items() if isinstance(plugin, protocol)}

    # -- the queue -----------------------------------------------------------

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        sorter: Any = self.points["queueSort"][0]
        return bool(sorter.less(a, b))

    def events_to_register(self) -> dict[str, list[ClusterEvent]]:
        """Each plugin's interesting cluster events; a plugin that says nothing gets all."""
        every = [ClusterEvent("Node", ActionType.ALL), ClusterEvent("Pod", ActionType.ALL)]
        return {
            name: plugin.events_to_register() if isinstance(plugin, EnqueueExtensions) else every
            for name, plugin in self.plugins.items()
        }

    # -- filtering -----------------------------------------------------------

    def run_pre_filter(
        self, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult, Status]:
        """Every PreFilter, intersecting their node sets; the first rejection ends it."""
        names: frozenset[str] | None = None
        for plugin in self.points["preFilter"]:
            result, status = plugin.pre_filter(state, pod, nodes)  # type: ignore[attr-defined]
            if status.is_skip:
                state.skip_filter.add(plugin.name)
                continue
            if not status.is_success:
                return PreFilterResult(), status.with_plugin(plugin.name)
            if result is not None and result.node_names is not None:
                names = result.node_names if names is None else names & result.node_names
        return PreFilterResult(names), st.success()

    def run_filter(
        self,
        state: CycleState,
        pod: Object,
        node: NodeInfo,
        only: frozenset[str] | None = None,
    ) -> Status:
        """Every Filter that runs this cycle (those in ``only``, if given) until
        one rejects ``node``."""
        for plugin in self.points["filter"]:
            if plugin.name in state.skip_filter or (only is not None and plugin.name not in only):
                continue
            status = plugin.filter(state, pod, node)  # type: ignore[attr-defined]
            if not status.is_success:
                return status.with_plugin(plugin.name)
        return st.success()

    def run_filter_with_nominated_pods(
        self, state: CycleState, pod: Object, node: NodeInfo
    ) -> Status:
        """Filter ``node`` as if the pods nominated to it with a priority at least
        ``pod``'s ran there, then (if it fits) as it is, as upstream: the room
        preemption made stays for its preemptor, and a pod that fits only
        beside a nominated pod (affinity to it) is not let in before it is."""
        added = self._with_nominated_pods(state, pod, node)
        if added is None:
            return self.run_filter(state, pod, node)
        status = self.run_filter(added[0], pod, added[1])
        if not status.is_success:
            return status
        return self.run_filter(state, pod, node)

    def _with_nominated_pods(
        self, state: CycleState, pod: Object, node: NodeInfo
    ) -> tuple[CycleState, NodeInfo] | None:
        """A copy of ``state`` and ``node`` with the nominated pods that count
        added; None (nothing copied) when none do, the usual case."""
        if not self.nominator:
            return None
        key, priority = pod_key(pod), pod_priority(pod)
        nominated = [
            info
            for info in self.nominator.pods_on(node.name)
            if pod_priority(info.pod) >= priority and pod_key(info.pod) != key
        ]
        if not nominated:
            return None
        state, node = state.clone(), node.copy()
        for info in nominated:
            node.add_pod_info(info)
            self.run_add_pod(state, pod, info, node)
        return state, node

    def run_add_pod(self, state: CycleState, pod: Object, added: PodInfo, node: NodeInfo) -> None:
        """Tell the PreFilter extensions ``added`` now runs on ``node``."""
        for plugin in self._extensions(state):
            plugin.add_pod(state, pod, added, node)

    def run_remove_pod(
        self, state: CycleState, pod: Object, removed: PodInfo, node: NodeInfo
    ) -> None:
        """Tell the PreFilter extensions ``removed`` no longer runs on ``node``."""
        for plugin in self._extensions(state):
            plugin.remove_pod(state, pod, removed, node)

    def _extensions(self, state: CycleState) -> list[PreFilterExtensions]:
        """The PreFilter plugins with extensions whose Filter runs this cycle."""
        return [
            plugin
            for plugin in self.points["preFilter"]
            if isinstance(plugin, PreFilterExtensions) and plugin.name not in state.skip_filter
        ]

    def run_filter_many(
        self, state: CycleState, pod: Object, table: NodeTable
    ) -> tuple[Mask, frozenset[str]] | None:
        """Whether each row passes the Filters that have a vectorised form for
        the pod (one step each), and the names of the running Filters that
        have none: :meth:`run_filter` with ``only`` those must still pass a
        row. None when no running Filter has a vectorised form."""
        passing: Mask = np.ones(len(table), dtype=np.bool_)
        rest: set[str] = set()
        running = 0
        for plugin in self.points["filter"]:
            if plugin.name in state.skip_filter:
                continue
            running += 1
            verdicts = None
            if plugin.name in self._vector_filters:
                verdicts = plugin.filter_many(state, pod, table)  # type: ignore[attr-defined]
            if verdicts is None:
                rest.add(plugin.name)
            else:
                passing &= verdicts
        if rest and len(rest) == running:
            return None
        return passing, frozenset(rest)

    async def run_post_filter(
        self, state: CycleState, pod: Object, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status]:
        """PostFilters in turn until one makes room (Success) or fails hard."""
        result = st.unschedulable()
        for plugin in self.points["postFilter"]:
            nominated, status = await plugin.post_filter(state, pod, statuses)  # type: ignore[attr-defined]
            if status.is_success or status.code == st.Code.ERROR:
                return nominated, status.with_plugin(plugin.name)
            result = status.with_plugin(plugin.name)
        return None, result

    # -- scoring -------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: Object, nodes: list[NodeInfo]) -> Status:
        for plugin in self.points["preScore"]:
            status = plugin.pre_score(state, pod, nodes)  # type: ignore[attr-defined]
            if status.is_skip:
                state.skip_score.add(plugin.name)
            elif not status.is_success:
                return status.with_plugin(plugin.name)
        return st.success()

    def run_score(
        self, state: CycleState, pod: Object, nodes: list[NodeInfo]
    ) -> dict[str, NodeScores]:
        """Weighted scores by node name. ValueError if a plugin leaves [0, 100]."""
        results = {node.name: NodeScores() for node in nodes}
        for plugin in self.points["score"]:
            if plugin.name in state.skip_score:
                continue
            raw = self._scores_one_by_one(state, pod, plugin, nodes)
            weight = self.weights[plugin.name]
            for name, value in raw.items():
                if not MIN_NODE_SCORE <= value <= MAX_NODE_SCORE:
                    raise ValueError(
                        f"plugin {plugin.name} returned an invalid score {value} for node {name}"
                    )
                results[name].by_plugin[plugin.name] = value * weight
                results[name].total += value * weight
        return results

    def run_score_many(
        self, state: CycleState, pod: Object, table: NodeTable, rows: Rows
    ) -> ScoreColumns:
        """:meth:`run_score` for ``rows`` of ``table``: one vectorised step per
        plugin that has one for the pod, node by node for the others."""
        columns = ScoreColumns(table, rows)
        for plugin in self.points["score"]:
            if plugin.name in state.skip_score:
                continue
            raw = self._scores_at_once(state, pod, plugin, table, rows)
            if raw is None:
                nodes = [table.infos[row] for row in rows.tolist()]
                by_name = self._scores_one_by_one(state, pod, plugin, nodes)
                raw = np.array([by_name[node.name] for node in nodes], dtype=np.int64)
            if raw.size and not (raw.min() >= MIN_NODE_SCORE and raw.max() <= MAX_NODE_SCORE):
                raise ValueError(f"plugin {plugin.name} returned an invalid score")
            columns.add(plugin.name, raw * self.weights[plugin.name])
        return columns

    def _scores_at_once(
        self, state: CycleState, pod: Object, plugin: Plugin, table: NodeTable, rows: Rows
    ) -> Column | None:
        """``plugin``'s normalized scores of ``rows`` in one step, if it can."""
        if plugin.name not in self._vector_scores:
            return None
        raw = plugin.score_many(state, pod, table, rows)  # type: ignore[attr-defined]
        if raw is not None and plugin.name in self._normalizers:
            raw = plugin.normalize_many(state, pod, raw)  # type: ignore[attr-defined]
        return raw

    def _scores_one_by_one(
        self, state: CycleState, pod: Object, plugin: Plugin, nodes: list[NodeInfo]
    ) -> dict[str, int]:
        """``plugin``'s normalized scores of ``nodes``, by node name."""
        raw = {node.name: plugin.score(state, pod, node) for node in nodes}  # type: ignore[attr-defined]
        if plugin.name in self._normalizers:
            plugin.normalize_scores(state, pod, raw)  # type: ignore[attr-defined]
        return raw

    # -- reserving and binding -----------------------------------------------

    def run_reserve(self, state: CycleState, pod: Object, node_name: str) -> Status:
        """Reserve with each plugin; on a failure, unreserve them all (in reverse)."""
        for plugin in self.points["reserve"]:
            status = plugin.reserve(state, pod, node_name)  # type: ignore[attr-defined]
            if not status.is_success:
                self.run_unreserve(state, pod, node_name)
                return status.with_plugin(plugin.name)
        return st.success()

    def run_unreserve(self, state: CycleState, pod: Object, node_name: str) -> None:
        for plugin in reversed(self.points["reserve"]):
            plugin.unreserve(state, pod, node_name)  # type: ignore[attr-defined]

    async def run_pre_bind(self, state: CycleState, pod: Object, node_name: str) -> Status:
        for plugin in self.points["preBind"]:
            status = await plugin.pre_bind(state, pod, node_name)  # type: ignore[attr-defined]
            if not status.is_success:
                return status.with_plugin(plugin.name)
        return st.success()

    async def run_bind(self, state: CycleState, pod: Object, node_name: str) -> Status:
        """The first Bind plugin that does not Skip binds the pod."""
        for plugin in self.points["bind"]:
            status = await plugin.bind(state, pod, node_name)  # type: ignore[attr-defined]
            if not status.is_skip:
                return status.with_plugin(plugin.name)
        return Status(st.Code.SKIP, ["every Bind plugin skipped the pod"])

    async def run_post_bind(self, state: CycleState, pod: Object, node_name: str) -> None:
        for plugin in self.points["postBind"]:
            await plugin.post_bind(state, pod, node_name)  # type: ignore[attr-defined]


def _instantiate(profile: Profile, registry: Registry, handle: Handle) -> dict[str, Plugin]:
    plugins: dict[str, Plugin] = {}
    for point, plugin_set in profile.plugins.items():
        for index, ref in enumerate(plugin_set.enabled):
            if ref.name in plugins:
                continue
            factory = registry.factory(ref.name)
            if factory is None:
                raise ConfigError(
                    f"profile {profile.scheduler_name!r}: plugins.{point}.enabled[{index}]: "
                    f"plugin {ref.name!r} does not exist"
                )
            try:
                plugins[ref.name] = factory(profile.plugin_args.get(ref.name), handle)
            except ValueError as error:
                raise ConfigError(
                    f"profile {profile.scheduler_name!r}: pluginConfig {ref.name}: {error}"
                ) from error
    return plugins


def _resolve(
    profile: Profile, point: str, plugins: dict[str, Plugin], protocol: type
) -> list[PluginRef]:
    """The plugins of one extension point: multiPoint's that implement it and are
    not disabled there, then the point's own (which override multiPoint's weight)."""
    own = profile.plugin_set(point)
    refs: dict[str, PluginRef] = {
        ref.name: ref
        for ref in profile.plugin_set("multiPoint").enabled
        if isinstance(plugins[ref.name], protocol) and not own.disables(ref.name)
    }
    for index, ref in enumerate(own.enabled):
        if not isinstance(plugins[ref.name], protocol):
            raise ConfigError(
                f"profile {profile.scheduler_name!r}: plugins.{point}.enabled[{index}]: "
                f"plugin {ref.name!r} does not extend {point}"
            )
        refs[ref.name] = ref
    return list(refs.values())
