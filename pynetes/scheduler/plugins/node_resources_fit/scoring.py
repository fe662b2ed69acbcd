"""The scoring strategies: a resource's score from what would be requested and
the node's allocatable amount, then the weighted mean over the resources."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_table import Column
from pynetes.scheduler.plugins.node_resources_fit.args import (
    LEAST_ALLOCATED,
    MAX_SHAPE_SCORE,
    MOST_ALLOCATED,
    FitArgs,
)

#: requested, allocatable -> score in [0, MAX_NODE_SCORE]
ResourceScorer = Callable[[int, int], int]


def least_allocated(requested: int, allocatable: int) -> int:
    """The free share: emptier nodes score higher (spreads pods)."""
    if allocatable == 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_allocated(requested: int, allocatable: int) -> int:
    """The used share: fuller nodes score higher (bin-packs pods)."""
    if allocatable == 0:
        return 0
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def least_allocated_column(requested: Column, allocatable: Column) -> Column:
    """:func:`least_allocated` over numpy columns (0 where nothing is allocatable)."""
    fits = (allocatable > 0) & (requested <= allocatable)
    free = (allocatable - requested) * MAX_NODE_SCORE // np.maximum(allocatable, 1)
    return np.where(fits, free, 0)


def most_allocated_column(requested: Column, allocatable: Column) -> Column:
    """:func:`most_allocated` over numpy columns."""
    used = np.minimum(requested, allocatable) * MAX_NODE_SCORE // np.maximum(allocatable, 1)
    return np.where(allocatable > 0, used, 0)


#: The strategies with a vectorised form, by name.
COLUMN_SCORERS: dict[str, Callable[[Column, Column], Column]] = {
    LEAST_ALLOCATED: least_allocated_column,
    MOST_ALLOCATED: most_allocated_column,
}


def broken_linear(shape: tuple[tuple[int, int], ...]) -> ResourceScorer:
    """RequestedToCapacityRatio: the utilization's score on the piecewise-linear
    ``shape`` (its 0..10 scores scaled to 0..100), flat before the first point
    and after the last."""
    scaled = [
        (utilization, score * MAX_NODE_SCORE // MAX_SHAPE_SCORE) for utilization, score in shape
    ]

    def scorer(requested: int, allocatable: int) -> int:
        if allocatable == 0:
            return scaled[0][1] if scaled[0][0] == 0 else 0
        utilization = min(requested * 100 // allocatable, 100)
        previous = scaled[0]
        if utilization <= previous[0]:
            return previous[1]
        for point in scaled[1:]:
            if utilization <= point[0]:
                rise = (point[1] - previous[1]) * (utilization - previous[0])
                return previous[1] + rise // (point[0] - previous[0])
            previous = point
        return previous[1]

    return scorer


def scorer_for(args: FitArgs) -> ResourceScorer:
    if args.strategy == LEAST_ALLOCATED:
        return least_allocated
    if args.strategy == MOST_ALLOCATED:
        return most_allocated
    return broken_linear(args.shape)


def weighted_score(
    amounts: list[tuple[int, int, int]], scorer: ResourceScorer, rounded: bool
) -> int:
    """The weighted mean of ``(requested, allocatable, weight)`` per resource,
    leaving out resources the node has none of. Upstream rounds only for
    RequestedToCapacityRatio (``rounded``); the others truncate."""
    total = weights = 0
    for requested, allocatable, weight in amounts:
        if allocatable == 0:
            continue
        total += scorer(requested, allocatable) * weight
        weights += weight
    if weights == 0:
        return 0
    return round(total / weights) if rounded else total // weights
