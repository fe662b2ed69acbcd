"""metrics.k8s.io's nodes and pods, as metrics-server prints them: the name, each
resource's usage (cpu and memory; a pod's summed over its containers), and the window."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pynetes.api.quantity import Quantity, parse_quantity
from pynetes.apiserver.tables.cells import Object, name
from pynetes.apiserver.tables.columns import Cells, Column, Printer

_GROUP = "metrics.k8s.io"
_RESOURCES = ("cpu", "memory")
_COLUMNS = (
    Column("Name", "string", "Name of the resource", format="name"),
    *(Column(resource, "string", "", format="quantity") for resource in _RESOURCES),
    Column("Window", "string", "", format="duration"),
)


def _node(metrics: Object, _now: datetime) -> Cells:
    usage = metrics.get("usage") or {}
    return [name(metrics), *(usage.get(key, "") for key in _RESOURCES), metrics.get("window")]


def _pod(metrics: Object, _now: datetime) -> Cells:
    containers = [c.get("usage") or {} for c in metrics.get("containers") or []]
    sums = [_total([usage[key] for usage in containers if key in usage]) for key in _RESOURCES]
    return [name(metrics), *sums, metrics.get("window")]


def _total(amounts: list[str]) -> str:
    """The sum of quantities, in the first one's format (as Quantity.Add keeps it)."""
    if not amounts:
        return ""
    parsed = [parse_quantity(amount) for amount in amounts]
    return str(Quantity(sum((q.amount for q in parsed), Decimal(0)), parsed[0].format))


PRINTERS = {
    (_GROUP, "nodes"): Printer(_COLUMNS, _node),
    (_GROUP, "pods"): Printer(_COLUMNS, _pod),
}
