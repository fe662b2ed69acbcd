"""IntOrString values: a count, or a percentage of some total (maxUnavailable, maxSurge)."""

from __future__ import annotations

import math


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """``value`` as a count out of ``total`` (upstream's GetScaledValueFromIntOrPercent).

    An int is itself; ``"N%"`` is N percent of ``total``, rounded up or
    down; None is 0. Raises ValueError for any other string (validation
    refuses them, so only a corrupt object gets here).
    """
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    digits = value.removesuffix("%")
    if digits == value or not digits.isdigit():
        raise ValueError(f"invalid value for IntOrString: {value!r} is not a percentage")
    scaled = int(digits) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)
