"""Pod workers: once stopped, no sync runs and none starts."""

from __future__ import annotations

import asyncio

from pynetes.kubelet.podworkers import PodWorkers


async def test_stop_waits_for_the_sync_in_progress_and_later_updates_start_none() -> None:
    began, finished, ran = asyncio.Event(), [], []

    async def sync(uid: str) -> float | None:
        ran.append(uid)
        began.set()
        try:
            await asyncio.Event().wait()  # a sync still awaiting (the runtime, the API)
        finally:
            finished.append(uid)
        return None

    workers = PodWorkers(sync)
    workers.update("a")
    await began.wait()
    await workers.stop()
    assert finished == ["a"]  # stop returned only once the sync had ended
    workers.update("a")  # an event arriving while the kubelet stops
    workers.update("b")
    await asyncio.sleep(0)
    assert ran == ["a"] and workers.known() == []
