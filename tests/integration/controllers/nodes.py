"""Nodes that run pods, for controller tests: hollow kubelets and the real scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence

from pynetes.client.rest import ApiClient
from pynetes.hollow import HollowNodes, NodeSpec
from pynetes.scheduler.config import SchedulerConfiguration
from pynetes.scheduler.scheduler import Scheduler


@contextlib.asynccontextmanager
async def running_nodes(api: ApiClient, specs: Sequence[NodeSpec]) -> AsyncIterator[HollowNodes]:
    """``specs`` registered as hollow nodes, and the default scheduler binding pods to them;
    a bound pod is reported Running and Ready by its node's hollow kubelet."""
    scheduler = Scheduler(api, SchedulerConfiguration(), rng=random.Random(1))
    async with HollowNodes(api, specs) as nodes:
        await nodes.ready()
        task = asyncio.create_task(scheduler.run())
        try:
            yield nodes
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
