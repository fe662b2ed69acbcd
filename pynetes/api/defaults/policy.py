"""``policy/v1``: upstream has no defaults here, only the status Go writes.

A PodDisruptionBudget's status counts have no ``omitempty``: a new one
comes back with them at 0.
"""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, struct

_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def _disruption_budget(budget: Obj) -> None:
    status = struct(budget, "status")
    for key in _COUNTS:
        status.setdefault(key, 0)


DEFAULTERS = {"io.k8s.api.policy.v1.PodDisruptionBudget": _disruption_budget}
