"""PodTopologySpreadArgs: the constraints given to pods that have none.

``defaultingType`` System (the default) uses upstream's system defaults,
ScheduleAnyway on hostname (maxSkew 3) and zone (maxSkew 5); List uses
``defaultConstraints``, which may not carry a labelSelector (it is derived
from the pod's Services and controllers, see :mod:`.defaults`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.scheduler.plugins.pod_topology_spread.constraints import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
)

SYSTEM = "System"
LIST = "List"
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"

SYSTEM_DEFAULT_CONSTRAINTS: tuple[Mapping[str, Any], ...] = (
    {"topologyKey": HOSTNAME_KEY, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": ZONE_KEY, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)


@dataclass(frozen=True)
class SpreadArgs:
    defaulting_type: str = SYSTEM
    default_constraints: tuple[Mapping[str, Any], ...] = SYSTEM_DEFAULT_CONSTRAINTS

    @property
    def system_defaulted(self) -> bool:
        return self.defaulting_type == SYSTEM


def parse_args(args: Mapping[str, Any] | None) -> SpreadArgs:
    """Defaulted, validated args (upstream's ValidatePodTopologySpreadArgs);
    ValueError naming the field otherwise."""
    args = args or {}
    kind = args.get("defaultingType") or SYSTEM
    if kind not in (SYSTEM, LIST):
        raise ValueError(f'defaultingType: Unsupported value: "{kind}"')
    given = list(args.get("defaultConstraints") or [])
    if kind == SYSTEM:
        if given:
            raise ValueError(
                'defaultingType: Invalid value: "System": '
                "when .defaultingType is System, .defaultConstraints must be empty"
            )
        return SpreadArgs()
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(given):
        _validate_constraint(item, f"defaultConstraints[{i}]", seen)
    return SpreadArgs(LIST, tuple(given))


def _validate_constraint(item: Mapping[str, Any], where: str, seen: set[tuple[str, str]]) -> None:
    skew = item.get("maxSkew")
    if not isinstance(skew, int) or skew <= 0:
        raise ValueError(f"{where}.maxSkew: Invalid value: {skew}: must be greater than zero")
    key = item.get("topologyKey") or ""
    if not key:
        raise ValueError(f"{where}.topologyKey: Required value: can not be empty")
    when = item.get("whenUnsatisfiable")
    if when not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
        raise ValueError(f'{where}.whenUnsatisfiable: Unsupported value: "{when}"')
    if (key, when) in seen:
        raise ValueError(f'{where}: Duplicate value: "{{{key}, {when}}}"')
    seen.add((key, when))
    if item.get("labelSelector") is not None:
        raise ValueError(
            f"{where}.labelSelector: Forbidden: constraint must not define a selector, "
            "as they deduced for each pod"
        )
