"""NodeResourcesFitArgs: which resources to ignore and how to score, with upstream's
defaults (LeastAllocated over cpu and memory, weight 1 each) and validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
STRATEGIES = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)

#: Upstream's MaxCustomPriorityScore: shape scores are 0..10, scaled to 0..100.
MAX_SHAPE_SCORE = 10


@dataclass(frozen=True)
class FitArgs:
    strategy: str = LEAST_ALLOCATED
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    shape: tuple[tuple[int, int], ...] = ()
    ignored_resources: frozenset[str] = field(default_factory=frozenset)
    ignored_groups: frozenset[str] = field(default_factory=frozenset)

    def ignores(self, resource: str) -> bool:
        return resource in self.ignored_resources or (
            "/" in resource and resource.split("/", 1)[0] in self.ignored_groups
        )


def parse_args(args: Mapping[str, Any] | None) -> FitArgs:
    """Defaulted, validated args; ValueError naming the field otherwise."""
    args = args or {}
    strategy = args.get("scoringStrategy") or {}
    kind = strategy.get("type") or LEAST_ALLOCATED
    if kind not in STRATEGIES:
        raise ValueError(f'scoringStrategy.type: Unsupported value: "{kind}"')
    resources = (
        tuple(
            _resource(item, f"scoringStrategy.resources[{i}]")
            for i, item in enumerate(strategy.get("resources") or [])
        )
        or FitArgs.resources
    )
    shape: tuple[tuple[int, int], ...] = ()
    if kind == REQUESTED_TO_CAPACITY_RATIO:
        points = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
        shape = _shape(points, "scoringStrategy.requestedToCapacityRatio.shape")
    return FitArgs(
        strategy=kind,
        resources=resources,
        shape=shape,
        ignored_resources=frozenset(args.get("ignoredResources") or ()),
        ignored_groups=frozenset(args.get("ignoredResourceGroups") or ()),
    )


def _resource(item: Mapping[str, Any], where: str) -> tuple[str, int]:
    name = item.get("name")
    if not name:
        raise ValueError(f"{where}.name: Required value")
    weight = item.get("weight", 1)
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise ValueError(f"{where}.weight: Invalid value: {weight}: not in valid range [1-100]")
    return str(name), weight


def _shape(points: list[Mapping[str, Any]], where: str) -> tuple[tuple[int, int], ...]:
    if not points:
        raise ValueError(f"{where}: Required value: at least one point must be specified")
    shape = []
    for i, point in enumerate(points):
        utilization, score = point.get("utilization", 0), point.get("score", 0)
        if not 0 <= utilization <= 100:
            raise ValueError(
                f"{where}[{i}].utilization: Invalid value: {utilization}: "
                "not in valid range [0-100]"
            )
        if shape and utilization <= shape[-1][0]:
            raise ValueError(
                f"{where}[{i}].utilization: Invalid value: {utilization}: "
                "utilization values must be sorted in increasing order"
            )
        if not 0 <= score <= MAX_SHAPE_SCORE:
            raise ValueError(
                f"{where}[{i}].score: Invalid value: {score}: not in valid range [0-10]"
            )
        shape.append((int(utilization), int(score)))
    return tuple(shape)
