"""In-process fan-out of committed changes to many watchers, from one source.

Each batch of events is offered to every watcher whose prefix matches, on the
event loop thread, in revision order. A watcher holds at most ``max_pending``
undelivered events; one that falls further behind is marked ``overflowed``,
its buffer dropped, and its reader catches up from the backend instead (the
same path as a watch that starts in the past). Memory stays bounded however
slow a consumer is, and nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque

from pynetes.storage.interface import WatchEvent

DEFAULT_MAX_PENDING = 10_000


class Watcher:
    """The live side of one watch: a bounded buffer of events for its prefix."""

    def __init__(self, prefix: str, max_pending: int) -> None:
        self.prefix = prefix
        self.overflowed = False
        self.closed = False
        self._max_pending = max_pending
        self._pending: deque[WatchEvent] = deque()
        self._wakeup = asyncio.Event()

    def offer(self, event: WatchEvent) -> None:
        if self.overflowed:
            return
        if len(self._pending) >= self._max_pending:
            self.overflowed = True
            self._pending.clear()
        else:
            self._pending.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    def restart(self) -> None:
        """Forget everything buffered: the reader will catch up from the database."""
        self.overflowed = False
        self._pending.clear()

    async def next(self) -> WatchEvent | None:
        """The next buffered event; None once overflowed or closed."""
        while not self._pending:
            if self.overflowed or self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.overflowed:
            return None
        return self._pending.popleft()


class WatcherSet:
    """Every live watcher, grouped by prefix so an event is matched once per prefix."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, set[Watcher]] = {}

    def add(self, prefix: str, *, max_pending: int = DEFAULT_MAX_PENDING) -> Watcher:
        watcher = Watcher(prefix, max_pending)
        self._by_prefix.setdefault(prefix, set()).add(watcher)
        return watcher

    def remove(self, watcher: Watcher) -> None:
        group = self._by_prefix.get(watcher.prefix)
        if group is not None:
            group.discard(watcher)
            if not group:
                del self._by_prefix[watcher.prefix]

    def publish(self, events: list[WatchEvent]) -> None:
        for prefix, group in self._by_prefix.items():
            for event in events:
                if event.kv.key.startswith(prefix):
                    for watcher in group:
                        watcher.offer(event)

    def close_all(self) -> None:
        for group in self._by_prefix.values():
            for watcher in group:
                watcher.close()
