"""Defaults of ``scheduling.k8s.io/v1``, as upstream's pkg/apis/scheduling/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj, default_pointer


def _priority_class(priority_class: Obj) -> None:
    default_pointer(priority_class, "preemptionPolicy", "PreemptLowerPriority")


DEFAULTERS = {"io.k8s.api.scheduling.v1.PriorityClass": _priority_class}
