"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): parsing, upstream's
defaults, and validation whose errors name the field (``profiles[1].schedulerName``).

Plugins are resolved as upstream's v1 defaulting does: the default profile's
``multiPoint`` plugins, minus those a profile disables there (``*`` for all),
plus those it enables (its weight wins); the other extension points keep
what the profile says, and the runner lets them override ``multiPoint``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pynetes.api.duration import DurationError, parse_duration

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

EXTENSION_POINTS = (
    "multiPoint",
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
)

#: Upstream's default multiPoint plugins (those pynetes has), in upstream's order and weights.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
)

#: Upstream's adaptive percentageOfNodesToScore: 0 means "work it out from the cluster size".
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 0


class ConfigError(ValueError):
    """The configuration is invalid; the message names the offending field."""


@dataclass(frozen=True)
class PluginRef:
    name: str
    weight: int = 0


@dataclass
class PluginSet:
    enabled: list[PluginRef] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)

    def disables(self, name: str) -> bool:
        return "*" in self.disabled or name in self.disabled


@dataclass
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: dict[str, PluginSet] = field(default_factory=dict)
    plugin_args: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None

    def plugin_set(self, point: str) -> PluginSet:
        return self.plugins.get(point) or PluginSet()


@dataclass
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_namespace: str = "kube-system"
    resource_name: str = "kube-scheduler"


@dataclass
class SchedulerConfiguration:
    profiles: list[Profile] = field(default_factory=lambda: [default_profile()])
    percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    qps: float = 50.0
    burst: int = 100


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> Profile:
    return Profile(scheduler_name, {"multiPoint": _default_multi_point(PluginSet())})


def load(path: Path) -> SchedulerConfiguration:
    """Read and validate a configuration file; ConfigError says what is wrong."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    return parse(document)


def parse(document: Any) -> SchedulerConfiguration:
    """A configuration from its decoded YAML, defaulted and validated."""
    if not isinstance(document, Mapping):
        raise ConfigError("the configuration must be a mapping")
    _expect(document.get("apiVersion") == API_VERSION, "apiVersion", f"must be {API_VERSION!r}")
    _expect(document.get("kind") == KIND, "kind", f"must be {KIND!r}")
    config = SchedulerConfiguration(
        profiles=[
            _profile(entry, f"profiles[{i}]")
            for i, entry in enumerate(_list(document, "profiles", ""))
        ]
        or [default_profile()],
        percentage_of_nodes_to_score=_int(document, "percentageOfNodesToScore", "", 0),
        pod_initial_backoff_seconds=_int(document, "podInitialBackoffSeconds", "", 1),
        pod_max_backoff_seconds=_int(document, "podMaxBackoffSeconds", "", 10),
        leader_election=_leader_election(_mapping(document, "leaderElection", "")),
    )
    connection = _mapping(document, "clientConnection", "")
    config.qps = float(connection.get("qps", config.qps))
    config.burst = int(connection.get("burst", config.burst))
    validate(config)
    return config


def validate(config: SchedulerConfiguration) -> None:
    """Upstream's ValidateKubeSchedulerConfiguration, for the fields pynetes has."""
    _expect(
        0 <= config.percentage_of_nodes_to_score <= 100,
        "percentageOfNodesToScore",
        f"Invalid value: {config.percentage_of_nodes_to_score}: not in valid range [0-100]",
    )
    _expect(
        config.pod_initial_backoff_seconds > 0,
        "podInitialBackoffSeconds",
        "Invalid value: must be greater than 0",
    )
    _expect(
        config.pod_max_backoff_seconds >= config.pod_initial_backoff_seconds,
        "podMaxBackoffSeconds",
        "Invalid value: must be greater than or equal to PodInitialBackoffSeconds",
    )
    seen: set[str] = set()
    for i, profile in enumerate(config.profiles):
        where = f"profiles[{i}]"
        _expect(bool(profile.scheduler_name), f"{where}.schedulerName", "Required value")
        _expect(
            profile.scheduler_name not in seen,
            f"{where}.schedulerName",
            f'Duplicate value: "{profile.scheduler_name}"',
        )
        seen.add(profile.scheduler_name)
        percentage = profile.percentage_of_nodes_to_score
        _expect(
            percentage is None or 0 <= percentage <= 100,
            f"{where}.percentageOfNodesToScore",
            f"Invalid value: {percentage}: not in valid range [0-100]",
        )
    sorts = {queue_sort_of(profile) for profile in config.profiles}
    _expect(
        len(sorts) <= 1,
        "profiles[1].plugins.queueSort",
        "Invalid value: queueSort must be the same for all profiles",
    )
    election = config.leader_election
    _expect(
        election.lease_duration > election.renew_deadline > 0,
        "leaderElection.renewDeadline",
        "Invalid value: must be greater than 0 and less than leaseDuration",
    )


def queue_sort_of(profile: Profile) -> str:
    """The QueueSort plugin a profile ends up with ("" for none)."""
    explicit = profile.plugin_set("queueSort").enabled
    if explicit:
        return explicit[-1].name
    multi = profile.plugin_set("multiPoint")
    sort_disabled = profile.plugin_set("queueSort")
    for ref in multi.enabled:
        if ref.name == "PrioritySort" and not sort_disabled.disables(ref.name):
            return ref.name
    return ""


def _profile(entry: Any, where: str) -> Profile:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: Invalid value: must be a mapping")
    plugins_doc = _mapping(entry, "plugins", where)
    plugins = {
        point: _plugin_set(plugins_doc[point], f"{where}.plugins.{point}")
        for point in EXTENSION_POINTS
        if point in plugins_doc
    }
    unknown = sorted(set(plugins_doc) - set(EXTENSION_POINTS))
    _expect(not unknown, f"{where}.plugins.{unknown[0] if unknown else ''}", "unknown field")
    plugins["multiPoint"] = _default_multi_point(plugins.get("multiPoint") or PluginSet())
    args: dict[str, Mapping[str, Any]] = {}
    for i, item in enumerate(_list(entry, "pluginConfig", where)):
        item_where = f"{where}.pluginConfig[{i}]"
        name = item.get("name") if isinstance(item, Mapping) else None
        _expect(bool(name), f"{item_where}.name", "Required value")
        _expect(name not in args, f"{item_where}.name", f'Duplicate value: "{name}"')
        args[str(name)] = _mapping(item, "args", item_where)
    percentage = entry.get("percentageOfNodesToScore")
    return Profile(
        scheduler_name=str(entry.get("schedulerName") or DEFAULT_SCHEDULER_NAME),
        plugins=plugins,
        plugin_args=args,
        percentage_of_nodes_to_score=None if percentage is None else int(percentage),
    )


def _default_multi_point(custom: PluginSet) -> PluginSet:
    """The default plugins merged with a profile's multiPoint set, as upstream's mergePlugins."""
    overrides = {ref.name: ref for ref in custom.enabled}
    enabled = [
        overrides.pop(name, PluginRef(name, weight))
        for name, weight in DEFAULT_PLUGINS
        if not custom.disables(name)
    ]
    enabled.extend(ref for ref in custom.enabled if ref.name in overrides)
    return PluginSet(enabled, set(custom.disabled))


def _plugin_set(document: Any, where: str) -> PluginSet:
    if not isinstance(document, Mapping):
        raise ConfigError(f"{where}: Invalid value: must be a mapping")
    enabled = []
    for i, item in enumerate(_list(document, "enabled", where)):
        name = item.get("name") if isinstance(item, Mapping) else None
        _expect(bool(name), f"{where}.enabled[{i}].name", "Required value")
        weight = item.get("weight") or 0
        _expect(
            isinstance(weight, int) and weight >= 0,
            f"{where}.enabled[{i}].weight",
            f"Invalid value: {weight}: must be a non-negative integer",
        )
        enabled.append(PluginRef(str(name), weight))
    disabled = set()
    for i, item in enumerate(_list(document, "disabled", where)):
        name = item.get("name") if isinstance(item, Mapping) else None
        _expect(bool(name), f"{where}.disabled[{i}].name", "Required value")
        disabled.add(str(name))
    return PluginSet(enabled, disabled)


def _leader_election(document: Mapping[str, Any]) -> LeaderElection:
    election = LeaderElection()
    election.leader_elect = bool(document.get("leaderElect", election.leader_elect))
    for key, attribute in (
        ("leaseDuration", "lease_duration"),
        ("renewDeadline", "renew_deadline"),
        ("retryPeriod", "retry_period"),
    ):
        if key in document:
            setattr(election, attribute, _duration(document[key], f"leaderElection.{key}"))
    election.resource_namespace = document.get("resourceNamespace") or election.resource_namespace
    election.resource_name = document.get("resourceName") or election.resource_name
    return election


def _duration(value: Any, where: str) -> float:
    """A Go duration ("15s", "1m30s")."""
    try:
        return parse_duration(str(value))
    except DurationError:
        raise ConfigError(
            f"{where}: Invalid value: {value!r}: not a duration such as 15s"
        ) from None


def _expect(condition: bool, where: str, detail: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {detail}")


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _mapping(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    _expect(isinstance(value, Mapping), _path(where, key), "Invalid value: must be a mapping")
    return value


def _list(document: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    _expect(isinstance(value, list), _path(where, key), "Invalid value: must be a list")
    return value


def _int(document: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = document.get(key, default)
    _expect(
        isinstance(value, int) and not isinstance(value, bool),
        _path(where, key),
        f"Invalid value: {value!r}: must be an integer",
    )
    return value
