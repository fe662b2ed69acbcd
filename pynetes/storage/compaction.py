"""Background compaction that keeps a window of history, as kube-apiserver's compactor does.

Every ``interval`` the compactor notes the store's current revision; it
compacts to the newest noted revision that is at least ``window`` old. History
kept is therefore between ``window`` and ``window + interval``: enough for
watchers and paginated lists that fall briefly behind, bounded on disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from pynetes.storage.errors import StorageError
from pynetes.storage.interface import Store

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 300.0


class Compactor:
    """Compacts ``store`` to keep ``window`` seconds of history."""

    def __init__(
        self,
        store: Store,
        *,
        window: float = DEFAULT_WINDOW_SECONDS,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._window = window
        self._interval = interval if interval is not None else max(window / 5, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._samples: deque[tuple[float, int]] = deque()

    async def run_once(self) -> int | None:
        """Note the current revision and compact if a note is old enough.

        Returns the revision compacted to, or None when nothing was due.
        """
        now = self._clock()
        self._samples.append((now, await self._store.current_revision()))
        due: int | None = None
        while self._samples and self._samples[0][0] <= now - self._window:
            due = self._samples.popleft()[1]
        if due is None or due <= await self._store.compacted_revision():
            return None
        await self._store.compact(due)
        return due

    async def run(self) -> None:
        """Compact forever; storage errors are logged and retried next interval."""
        while True:
            try:
                revision = await self.run_once()
            except StorageError as error:
                log.warning("compaction failed, retrying in %.0fs: %s", self._interval, error)
            else:
                if revision is not None:
                    log.info("compacted storage to revision %d", revision)
            await self._sleep(self._interval)
