"""IntOrString scaling, as upstream's GetScaledValueFromIntOrPercent."""

from __future__ import annotations

import pytest

from pynetes.api.intstr import scaled_value


def test_counts_are_themselves_and_percentages_scale_rounding_as_asked() -> None:
    assert scaled_value(3, 10, round_up=True) == 3
    assert scaled_value(None, 10, round_up=True) == 0
    assert scaled_value("25%", 10, round_up=True) == 3
    assert scaled_value("25%", 10, round_up=False) == 2
    assert scaled_value("0%", 10, round_up=True) == 0


@pytest.mark.parametrize("value", ["25", "x%", "%", "-5%"])
def test_strings_that_are_not_percentages_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        scaled_value(value, 10, round_up=True)
