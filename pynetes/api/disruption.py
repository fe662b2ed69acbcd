"""What the disruption controller and the eviction subresource agree on about budgets.

The controller computes a PodDisruptionBudget's status; the API server's
eviction spends its ``disruptionsAllowed`` and records evicted pods in
``disruptedPods``. Both judge pod health and phrase the DisruptionAllowed
condition the same way, as upstream's shared pdb helpers do.
"""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]

#: The condition a budget's status carries (policy/v1 DisruptionAllowedCondition).
DISRUPTION_ALLOWED = "DisruptionAllowed"
#: The pod condition saying the pod is about to go (an eviction's or a preemption's).
DISRUPTION_TARGET = "DisruptionTarget"
#: How long an entry of ``disruptedPods`` keeps its pod out of the healthy count (seconds).
DELETION_TIMEOUT = 120.0
#: More unconfirmed evictions than this and the eviction subresource refuses (upstream's).
MAX_DISRUPTED_PODS = 2000


def allowed_condition(disruptions_allowed: int, observed_generation: int) -> Object:
    """The DisruptionAllowed condition for this many allowed disruptions (no transition time)."""
    allowed = disruptions_allowed > 0
    return {
        "type": DISRUPTION_ALLOWED,
        "status": "True" if allowed else "False",
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
        "observedGeneration": observed_generation,
    }
