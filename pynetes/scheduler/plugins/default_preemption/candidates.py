"""Choosing the node to preempt on among those where eviction helps (upstream's
pickOneNodeForPreemption).

Criteria in turn, each narrowing the field until one node is left: fewest
PodDisruptionBudget violations; lowest priority among the most important
victims; smallest sum of victims' priorities (each shifted by 2^31, so the
sum also grows with the number of victims, as upstream); fewest victims; the
latest start among the most important victims (evict what ran least). A
node that needs no victims at all wins at once. Ties keep the first node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pynetes.scheduler.framework.node_info import pod_priority
from pynetes.scheduler.plugins.default_preemption.victims import Victims, WallClock, start_time

#: Upstream shifts priorities by MaxInt32 + 1 so that every term is positive.
_PRIORITY_SHIFT = 2**31


@dataclass
class Candidate:
    node_name: str
    victims: Victims


def pick_one_node(candidates: Sequence[Candidate], now: WallClock) -> Candidate | None:
    """The candidate to preempt on (see the module's docstring); None if there is none."""
    for candidate in candidates:
        if not candidate.victims.pods:
            return candidate
    criteria: list[Callable[[Candidate], float]] = [
        lambda c: -c.victims.pdb_violations,
        lambda c: -pod_priority(c.victims.pods[0]),
        lambda c: -sum(pod_priority(pod) + _PRIORITY_SHIFT for pod in c.victims.pods),
        lambda c: -len(c.victims.pods),
        lambda c: _earliest_start_of_most_important(c.victims, now).timestamp(),
    ]
    field = list(candidates)
    for criterion in criteria:
        if len(field) <= 1:
            break
        best = max(criterion(candidate) for candidate in field)
        field = [candidate for candidate in field if criterion(candidate) == best]
    return field[0] if field else None


def _earliest_start_of_most_important(victims: Victims, now: WallClock) -> datetime:
    """The earliest start among the victims of the highest priority (upstream's
    GetEarliestPodStartTime); the victims come most important first."""
    top = pod_priority(victims.pods[0])
    return min(start_time(pod, now) for pod in victims.pods if pod_priority(pod) == top)
