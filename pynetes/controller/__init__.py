"""pynetes.controller: the controller runtime every controller is built on.

:class:`Controller` runs workers that reconcile keys from a rate limiting
work queue (as controller-runtime does); :class:`Expectations` keeps a
controller from acting on a cache that has not yet seen its own writes (as
kube-controller-manager's ControllerExpectations).
"""

from pynetes.controller.controller import Controller, Reconcile, Result
from pynetes.controller.expectations import (
    EXPECTATIONS_TIMEOUT,
    Expectations,
    UIDTrackingExpectations,
)

__all__ = [
    "EXPECTATIONS_TIMEOUT",
    "Controller",
    "Expectations",
    "Reconcile",
    "Result",
    "UIDTrackingExpectations",
]
