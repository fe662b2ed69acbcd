"""The informers the collector watches: one per deletable resource the server offers.

As upstream's GarbageCollector.Sync: discovery (``/api/v1`` and ``/apis``)
says which resources support ``delete``, ``list`` and ``watch``; each gets
an informer whose changes feed the graph. Discovery runs again every
:data:`RESYNC_PERIOD` and whenever a CustomResourceDefinition changes, so
custom resources are collected as soon as they are served. A resource no
longer offered stops being watched (its objects leave the graph, as they
left the server), except when its group version merely failed to answer
discovery this time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler, Informer
from pynetes.client.discovery import preferred_resources
from pynetes.controllermanager.context import ControllerContext

log = logging.getLogger(__name__)

#: Resources never collected (upstream's DefaultIgnoredResources): Events come and go alone.
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
#: How often discovery runs without a CRD change (upstream's 30 seconds).
RESYNC_PERIOD = 30.0
#: The first wait before retrying a failed discovery.
RETRY_INITIAL = 1.0
#: How long one sync waits for new informers to list before the workers go on without them.
SYNC_TIMEOUT = 30.0


class Monitors:
    """Keeps an informer running for every deletable resource.

    ``handlers(resource)`` makes the event handlers of one resource's
    informer; they are added once, however often the resource comes and goes.
    """

    def __init__(
        self, context: ControllerContext, handlers: Callable[[Resource], EventHandler]
    ) -> None:
        self._client = context.client
        self._informers = context.informers
        self._handlers = handlers
        self._running: dict[Resource, Informer] = {}
        self._handled: dict[Resource, EventHandler] = {}
        #: (group, kind) -> resource, for the ownerReferences the workers resolve.
        self.kinds: dict[tuple[str, str], Resource] = {}
        self.changed = asyncio.Event()

    async def sync(self) -> None:
        """Discover, start informers of new resources, stop those of vanished ones."""
        discovery = await preferred_resources(self._client)
        self.kinds.update(discovery.by_kind())
        wanted = {
            resource
            for resource in discovery.supporting("delete", "list", "watch")
            if (resource.group, resource.plural) not in IGNORED
        }
        for resource in set(self._running) - wanted:
            if resource.group_version in discovery.failed:
                continue  # not known to be gone: keep watching
            await self._stop(resource)
        started = [self._start(resource) for resource in wanted - set(self._running)]
        if started:
            try:
                async with asyncio.timeout(SYNC_TIMEOUT):
                    await asyncio.gather(*(informer.wait_for_sync() for informer in started))
            except TimeoutError:
                log.warning("garbage collector: some informers have not synced; going on")

    def _start(self, resource: Resource) -> Informer:
        informer = self._informers.informer(resource)
        if resource not in self._handled:
            self._handled[resource] = self._handlers(resource)
            informer.add_event_handler(self._handled[resource])
        informer.start()
        self._running[resource] = informer
        return informer

    async def _stop(self, resource: Resource) -> None:
        """Stop watching a resource no longer served; its objects are gone with it."""
        informer = self._running.pop(resource)
        await informer.stop()
        self.kinds.pop((resource.group, resource.kind), None)
        forget = self._handled[resource].on_delete
        if forget is not None:
            for obj in informer.store.list():
                forget(obj)

    async def try_sync(self) -> bool:
        """:meth:`sync`, logging rather than raising a failure to reach the server."""
        try:
            await self.sync()
        except (errors.ApiError, errors.TransportError) as error:
            log.warning("garbage collector: discovery failed: %s", error)
            return False
        return True

    async def keep_in_sync(self) -> None:
        """Discover again every :data:`RESYNC_PERIOD`, or at once when :attr:`changed` is set.

        A failed discovery is retried after a backoff doubling from
        :data:`RETRY_INITIAL` up to the period, however often ``changed`` is set.
        """
        retry = RETRY_INITIAL
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESYNC_PERIOD):
                    await self.changed.wait()
            self.changed.clear()
            while not await self.try_sync():
                await asyncio.sleep(retry)
                retry = min(retry * 2, RESYNC_PERIOD)
            retry = RETRY_INITIAL
