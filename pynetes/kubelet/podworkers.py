"""One worker per pod: the pod's syncs run one at a time, requests in between coalesce.

As upstream's podWorkers: anything that may change what a pod needs (its spec, a
container exit, a probe result, a timer) calls :meth:`PodWorkers.update`; the
pod's worker then runs the sync function once for all the updates that arrived
while it was busy. The sync is level-triggered: it reads the pod's current
desired and actual state, never the event that woke it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: The sync of one pod: returns seconds until it wants to run again (None: only on updates).
SyncFunction = Callable[[str], Awaitable[float | None]]
#: After a sync raised, the pod is tried again this much later.
RETRY_SECONDS = 1.0


class _Worker:
    def __init__(self) -> None:
        self.wanted = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None


class PodWorkers:
    """Serialises the syncs of each pod (by uid) and runs different pods concurrently."""

    def __init__(self, sync: SyncFunction) -> None:
        self._sync = sync
        self._workers: dict[str, _Worker] = {}
        self._stopped = False

    def update(self, uid: str) -> None:
        """Ask for a sync of pod ``uid`` (starting its worker if it has none); ignored once
        stopped, so that an event arriving while the kubelet stops starts no sync."""
        if self._stopped:
            return
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker()
            worker.task = asyncio.create_task(self._run(uid, worker), name=f"pod-worker-{uid}")
        worker.wanted.set()

    def update_all(self) -> None:
        for uid in list(self._workers):
            self.update(uid)

    def known(self) -> list[str]:
        return list(self._workers)

    async def forget(self, uid: str) -> None:
        """Stop the worker of ``uid`` (after its sync in progress, if any)."""
        worker = self._workers.pop(uid, None)
        if worker is None:
            return
        if worker.timer is not None:
            worker.timer.cancel()
        if worker.task is not None and worker.task is not asyncio.current_task():
            worker.task.cancel()

    async def stop(self) -> None:
        """Stop every worker and wait until none runs a sync any more: a sync left running
        would go on starting containers after the kubelet stopped (and after whoever
        stops the pods' containers next has looked)."""
        self._stopped = True
        tasks = [worker.task for worker in self._workers.values() if worker.task is not None]
        for uid in list(self._workers):
            await self.forget(uid)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, uid: str, worker: _Worker) -> None:
        while self._workers.get(uid) is worker:
            await worker.wanted.wait()
            worker.wanted.clear()
            try:
                delay = await self._sync(uid)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync of pod %s failed; retrying in %.0f s", uid, RETRY_SECONDS)
                delay = RETRY_SECONDS
            if delay is not None and self._workers.get(uid) is worker:
                self._later(uid, worker, delay)

    def _later(self, uid: str, worker: _Worker, delay: float) -> None:
        if worker.timer is not None:
            worker.timer.cancel()
        worker.timer = asyncio.get_running_loop().call_later(delay, self.update, uid)
