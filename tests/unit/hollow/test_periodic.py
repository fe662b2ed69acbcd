"""Staggered work: keys' phases spread evenly over the period, whatever their number."""

from __future__ import annotations

import itertools

import pytest

from pynetes.hollow.periodic import Staggered, phase


@pytest.mark.parametrize("keys", [1, 7, 100, 5_000])
def test_phases_spread_evenly_over_the_period(keys: int) -> None:
    offsets = sorted(phase(index, 10.0) for index in range(keys))
    assert all(0.0 <= offset < 10.0 for offset in offsets)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    gaps.append(10.0 - offsets[-1] + offsets[0])
    assert max(gaps) <= 3 * 10.0 / keys  # no bunching: renewals arrive as a steady trickle


def test_a_period_and_workers_are_required() -> None:
    async def nothing(_key: str) -> None:
        return None

    with pytest.raises(ValueError):
        Staggered("x", nothing, 0.0)
    with pytest.raises(ValueError):
        Staggered("x", nothing, 1.0, workers=0)
