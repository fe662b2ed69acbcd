"""What one probe run tells: upstream's ``probe.Result`` and the text that goes with it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProbeResult(enum.Enum):
    """The outcome of one probe run (upstream's ``probe.Result``, with its names)."""

    SUCCESS = "success"
    #: Success that the user should hear about (an HTTP redirect to another host).
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProbeOutcome:
    """A probe's result and its output: the text of Events (``Liveness probe failed: <output>``)."""

    result: ProbeResult
    output: str = ""


class ProbeError(Exception):
    """The probe could not be run at all (a port name the container lacks, a runtime error).

    Upstream retries such a probe, records ``<Kind> probe errored ...`` and throws
    the result away: it counts neither as a success nor as a failure.
    """
