"""When a Job is finished, and the backoff between its pod failures."""

from __future__ import annotations

from typing import Any

from pynetes.api.conditions import is_true

Object = dict[str, Any]

#: Upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 360.0


def is_finished(status: Object) -> bool:
    """Complete or Failed: nothing more runs."""
    return is_true(status, "Complete") or is_true(status, "Failed")


def failure_backoff(failures: int) -> float:
    """How long to wait before replacing a failed pod after ``failures`` failures."""
    if failures <= 0:
        return 0.0
    return min(POD_FAILURE_BACKOFF * 2 ** (failures - 1), MAX_POD_FAILURE_BACKOFF)
