"""Build the chosen controllers over one informer factory and run them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from pynetes.client.cache.informer import SharedInformerFactory
from pynetes.client.flowcontrol import Clock
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger("pynetes.controllermanager")


class ControllerManager:
    """Runs ``descriptors`` against the cluster ``client`` reaches.

    :meth:`run` builds every controller (they register the informers they
    need), starts the shared informers, waits until they have synced (as
    upstream waits before its controllers' workers start) and runs the
    controllers until cancelled. ``synced`` is set once they run.
    """

    def __init__(
        self,
        client: ApiClient,
        descriptors: Sequence[ControllerDescriptor],
        options: argparse.Namespace,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.descriptors = list(descriptors)
        self.context = ControllerContext(
            client,
            SharedInformerFactory(client),
            options,
            registry=CollectorRegistry() if registry is None else registry,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.synced = asyncio.Event()

    async def run(self) -> None:
        """Run every controller until cancelled; the informers stop with them."""
        context = self.context
        try:
            built = [(d.name, d.build(context)) for d in self.descriptors]
            context.informers.start()
            await context.informers.wait_for_cache_sync()
            log.info("caches synced; starting %s", ", ".join(name for name, _ in built))
            self.synced.set()
            async with asyncio.TaskGroup() as controllers:
                for name, controller in built:
                    controllers.create_task(controller.run(), name=f"controller {name}")
        finally:
            await context.informers.shutdown()
            await context.close()
