"""CrashLoopBackOff: how long the kubelet waits before restarting a container that exited.

As upstream's ``flowcontrol.Backoff`` used by the kubelet: the first restart waits
10 s, each further one doubles the wait up to 5 min, and a container that ran
without restarting for twice the maximum (10 min) starts again from 10 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

INITIAL_SECONDS = 10.0
MAX_SECONDS = 300.0


@dataclass
class _Entry:
    delay: float
    last_restart: float


class CrashLoopBackOff:
    """Per (pod uid, container name): when the next restart may happen.

    ``clock`` is monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        *,
        initial: float = INITIAL_SECONDS,
        maximum: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}

    def remaining(self, pod_uid: str, container: str, since_exit: float) -> float:
        """Seconds left before ``container`` may restart, given it exited ``since_exit``
        seconds ago. 0 means now (the first restart is immediate, as upstream); the
        caller then calls :meth:`restarted`."""
        entry = self._entries.get((pod_uid, container))
        if entry is None or self._stale(entry):
            return 0.0
        return max(0.0, entry.delay - since_exit)

    def current(self, pod_uid: str, container: str) -> float:
        """The back-off the container is in now (what the CrashLoopBackOff message names)."""
        entry = self._entries.get((pod_uid, container))
        return self._initial if entry is None else entry.delay

    def restarted(self, pod_uid: str, container: str) -> None:
        """Record a restart: the next one waits twice as long (from 10 s, up to 5 min)."""
        key = (pod_uid, container)
        entry = self._entries.get(key)
        if entry is None or self._stale(entry):
            self._entries[key] = _Entry(self._initial, self._clock())
            return
        entry.delay = min(entry.delay * 2, self._maximum)
        entry.last_restart = self._clock()

    def forget_pod(self, pod_uid: str) -> None:
        for key in [key for key in self._entries if key[0] == pod_uid]:
            del self._entries[key]

    def _stale(self, entry: _Entry) -> bool:
        return self._clock() - entry.last_restart > 2 * self._maximum
