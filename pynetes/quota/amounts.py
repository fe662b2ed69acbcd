"""ResourceLists (``{"cpu": "500m", ...}``) as sums of exact quantities.

Adding follows upstream's ``Quantity.Add``: a zero sum takes the format of
what is added to it, a non-zero one keeps its own. That is why a quota's
``requests.memory`` reads ``1536Mi`` after pods of ``1Gi`` and ``512Mi``,
and ``1500m`` for CPU requests of ``1`` and ``500m``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pynetes.api.quantity import Format, Quantity, QuantityError, parse_json_quantity

Amounts = dict[str, Quantity]

ZERO = Quantity(Decimal(0), Format.DECIMAL_SI)
ONE = Quantity(Decimal(1), Format.DECIMAL_SI)


def count(value: int) -> Quantity:
    """A number of objects or ports, as a quantity."""
    return Quantity(Decimal(value), Format.DECIMAL_SI)


def plus(total: Quantity, more: Quantity) -> Quantity:
    """``total + more`` with upstream's choice of format."""
    form = more.format if total.amount == 0 else total.format
    return Quantity(total.amount + more.amount, form)


def add(total: Amounts, more: Mapping[str, Quantity]) -> None:
    """Add ``more`` into ``total``, name by name."""
    for name, quantity in more.items():
        found = total.get(name)
        total[name] = quantity if found is None else plus(found, quantity)


def increase(new: Mapping[str, Quantity], old: Mapping[str, Quantity]) -> Amounts:
    """How much ``new`` exceeds ``old``, name by name, never below zero (an update's charge)."""
    grown: Amounts = {}
    for name, quantity in new.items():
        before = old.get(name)
        amount = quantity.amount if before is None else quantity.amount - before.amount
        grown[name] = Quantity(max(amount, Decimal(0)), quantity.format)
    return grown


def raise_to(total: Amounts, floor: Mapping[str, Quantity]) -> None:
    """Each amount of ``total`` at least that of ``floor`` (upstream's maxResourceList)."""
    for name, quantity in floor.items():
        found = total.get(name)
        if found is None or quantity > found:
            total[name] = quantity


def parse_list(resources: Mapping[str, Any] | None) -> Amounts:
    """A ResourceList as quantities; an amount that does not parse is left out (validated)."""
    parsed: Amounts = {}
    for name, value in (resources or {}).items():
        try:
            parsed[name] = parse_json_quantity(value)
        except QuantityError:
            continue
    return parsed


def render(amounts: Mapping[str, Quantity]) -> dict[str, str]:
    """The ResourceList as the API serializes it."""
    return {name: str(quantity) for name, quantity in sorted(amounts.items())}
