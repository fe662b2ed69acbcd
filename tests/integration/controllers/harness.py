"""Running controllers in-process against the real API server, for the controller tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from pynetes.api.resources import Resource
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.rest import ApiClient
from pynetes.controllermanager import ControllerManager, options, registry

T = TypeVar("T")
Object = dict[str, Any]
#: How long a condition may take to come true before the test fails (a hang guard only).
GUARD = 60.0


@contextlib.asynccontextmanager
async def running_controllers(
    client: ApiClient, *names: str, **overrides: Any
) -> AsyncIterator[ControllerManager]:
    """The controllers ``names`` running until the block ends; ``overrides`` set options.

    ``clock`` and ``wall_clock`` among ``overrides`` are the manager's clocks.
    """
    clocks = {key: overrides.pop(key) for key in ("clock", "wall_clock") if key in overrides}
    manager = ControllerManager(
        client, registry.select(list(names)), options.defaults(**overrides), **clocks
    )
    task = asyncio.create_task(manager.run())
    try:
        async with asyncio.timeout(GUARD):
            synced = asyncio.create_task(manager.synced.wait())
            await asyncio.wait({task, synced}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # a controller that failed to build raises here
        yield manager
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[T]]) -> T:
    """Poll ``check`` until it returns something truthy: the server is what changes."""
    async with asyncio.timeout(GUARD):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


class WallClock:
    """A wall clock a test moves by hand (seconds since the epoch), for the controllers."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def processed(
    manager: ControllerManager, queue: str, cause: Callable[[], Awaitable[Any]]
) -> None:
    """Run ``cause`` (a change the controller watches), then wait until the controller has
    taken the resulting key off ``queue`` and is idle: what it did not do by then, it did
    not do for this change. Read from the queue's ``workqueue_*`` metrics."""

    def sample(metric: str) -> float:
        value = manager.context.registry.get_sample_value(metric, {"name": queue})
        return value or 0.0

    adds = sample("workqueue_adds_total")
    await cause()

    async def idle() -> bool:
        return (
            sample("workqueue_adds_total") > adds
            and sample("workqueue_depth") == 0
            and sample("workqueue_longest_running_processor_seconds") == 0
        )

    await eventually(idle)


@contextlib.asynccontextmanager
async def recorded_updates(
    api: ApiClient, resource: Resource
) -> AsyncIterator[list[tuple[Object, Object]]]:
    """Every (old, new) update of ``resource``'s objects seen while the block runs."""
    updates: list[tuple[Object, Object]] = []
    informer = Informer(api, resource)
    informer.add_event_handler(EventHandler(on_update=lambda old, new: updates.append((old, new))))
    informer.start()
    await informer.wait_for_sync()
    try:
        yield updates
    finally:
        await informer.stop()
