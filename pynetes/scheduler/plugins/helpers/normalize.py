"""Upstream's DefaultNormalizeScore: scale raw scores so the best is MAX_NODE_SCORE."""

from __future__ import annotations

import numpy as np

from pynetes.scheduler.framework.interface import MAX_NODE_SCORE
from pynetes.scheduler.framework.node_table import Column


def default_normalize_score(scores: dict[str, int], *, reverse: bool) -> None:
    """Scale ``scores`` in place to [0, MAX_NODE_SCORE] by their maximum.

    ``reverse`` turns "more is worse" counts into scores (the most-counted
    node gets 0). With every raw score 0, all stay 0 (all become
    MAX_NODE_SCORE when reversed), as upstream.
    """
    highest = max(scores.values(), default=0)
    for name, value in scores.items():
        if highest == 0:
            scores[name] = MAX_NODE_SCORE if reverse else 0
            continue
        scaled = MAX_NODE_SCORE * value // highest
        scores[name] = MAX_NODE_SCORE - scaled if reverse else scaled


def default_normalize_column(scores: Column, *, reverse: bool) -> Column:
    """:func:`default_normalize_score` of a numpy column, returned anew."""
    highest = int(scores.max(initial=0))
    if highest == 0:
        return np.full_like(scores, MAX_NODE_SCORE if reverse else 0)
    scaled = MAX_NODE_SCORE * scores // highest
    return MAX_NODE_SCORE - scaled if reverse else scaled
