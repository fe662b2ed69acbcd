"""Round-robin over a service port's endpoints, with ClientIP session affinity
(upstream's userspace ``LoadBalancerRR``, for one service port).

A new endpoint list is shuffled (so that proxies on different nodes do not
all start with the same endpoint) and restarts the rotation; affinities to
endpoints still present survive it. With affinity, a client whose last
connection is younger than the timeout gets the same endpoint again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Address = tuple[str, int]


@dataclass
class _Affinity:
    endpoint: Address
    last_used: float


class RoundRobin:
    """Picks endpoints for new connections; ``affinity_timeout`` None means no affinity."""

    def __init__(
        self,
        *,
        affinity_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        shuffle: Callable[[list[Address]], None] = random.shuffle,
    ) -> None:
        self.affinity_timeout = affinity_timeout
        self._clock = clock
        self._shuffle = shuffle
        self._endpoints: list[Address] = []
        self._index = 0
        self._affinity: dict[str, _Affinity] = {}

    @property
    def endpoints(self) -> tuple[Address, ...]:
        return tuple(self._endpoints)

    def update(self, endpoints: Sequence[Address]) -> None:
        """Balance over ``endpoints`` from now on (nothing changes if the set is the same)."""
        if set(endpoints) == set(self._endpoints):
            return
        fresh = list(endpoints)
        self._shuffle(fresh)
        self._endpoints, self._index = fresh, 0
        present = set(fresh)
        self._affinity = {
            client: held for client, held in self._affinity.items() if held.endpoint in present
        }

    def next(self, client_ip: str, *, reset_affinity: bool = False) -> Address | None:
        """The endpoint for a new connection from ``client_ip`` (None: no endpoint).

        ``reset_affinity`` skips the client's sticky endpoint (it just failed).
        """
        if not self._endpoints:
            return None
        now = self._clock()
        if self.affinity_timeout is not None and not reset_affinity:
            held = self._affinity.get(client_ip)
            if held is not None and now - held.last_used < self.affinity_timeout:
                held.last_used = now
                return held.endpoint
        endpoint = self._endpoints[self._index % len(self._endpoints)]
        self._index = (self._index + 1) % len(self._endpoints)
        if self.affinity_timeout is not None:
            self._affinity[client_ip] = _Affinity(endpoint, now)
        return endpoint

    def purge(self) -> None:
        """Forget expired affinities (upstream cleans stale sticky sessions on each sync)."""
        if self.affinity_timeout is None:
            return
        deadline = self._clock() - self.affinity_timeout
        self._affinity = {
            client: held for client, held in self._affinity.items() if held.last_used > deadline
        }
