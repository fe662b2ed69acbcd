"""Shared informers: one list-and-watch per resource, its objects indexed in memory,
and handlers told of every change (client-go's SharedIndexInformer).

Handlers should only put keys on a work queue (:func:`enqueue_keys`): they
run on the informer's task, in the order the changes happened, and a slow
handler holds up the others. A handler that raises is logged and skipped.
Objects handed to handlers and read from the store are shared by everyone:
copy one before changing it (see :mod:`pynetes.client.cache.indexer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pynetes.api.resources import Resource
from pynetes.client.cache.indexer import CacheMutationError, Indexer, IndexFunc, object_key
from pynetes.client.cache.lister import Lister
from pynetes.client.cache.reflector import Reflector
from pynetes.client.flowcontrol import Sleep
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)

Object = dict[str, Any]

#: How often a store with mutation detection on (KUBE_CACHE_MUTATION_DETECTOR) is checked.
MUTATION_CHECK_PERIOD = 1.0


@dataclass(frozen=True)
class EventHandler:
    """What to do on an add, an update (also on each resync: old is new) and a delete."""

    on_add: Callable[[Object], None] | None = None
    on_update: Callable[[Object, Object], None] | None = None
    on_delete: Callable[[Object], None] | None = None


class KeyQueue(Protocol):
    def add(self, key: str) -> None: ...


def enqueue_keys(queue: KeyQueue) -> EventHandler:
    """Handlers that put the changed object's ``namespace/name`` on ``queue``."""

    def add(obj: Object) -> None:
        queue.add(object_key(obj))

    return EventHandler(on_add=add, on_update=lambda _old, new: add(new), on_delete=add)


class Informer:
    """The objects of one resource (in one namespace, matching selectors), kept current."""

    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        resync_period: float = 0.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.resource = resource
        self.store = Indexer(indexers)
        self.lister = Lister(self.store)
        self._handlers: list[EventHandler] = []
        self._resync_period = resync_period
        self._reflector = Reflector(
            client,
            resource,
            self.store,
            self._notify,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            sleep=sleep,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def add_event_handler(self, handler: EventHandler) -> None:
        """Tell ``handler`` of every change from now on, after an add for every
        object already held (as client-go does for a handler added late)."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.store.list():
                self._call(handler.on_add, obj)

    @property
    def has_synced(self) -> bool:
        return self._reflector.has_synced

    @property
    def lists(self) -> int:
        """How many times the resource was listed (1 + relists after 410 Gone)."""
        return self._reflector.lists

    @property
    def resource_version(self) -> str:
        """The version the store reflects (the last list's, event's or bookmark's)."""
        return self._reflector.resource_version

    async def wait_for_sync(self) -> None:
        await self._reflector.wait_for_sync()

    def start(self) -> None:
        """Start listing and watching (once) in tasks of their own."""
        if self._tasks:
            return
        name = f"informer {self.resource.group_version}/{self.resource.plural}"
        self._tasks.append(asyncio.create_task(self._reflector.run(), name=name))
        if self._resync_period > 0:
            self._tasks.append(asyncio.create_task(self._resync(), name=f"{name} resync"))
        if self.store.detects_mutations:
            self._tasks.append(asyncio.create_task(self._detect_mutations(), name=f"{name} check"))

    async def stop(self) -> None:
        """Stop its tasks; a task that already failed (a detected mutation) was reported."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def _notify(self, old: Object | None, new: Object | None) -> None:
        for handler in self._handlers:
            if old is None and new is not None:
                self._call(handler.on_add, new)
            elif old is not None and new is not None:
                self._call(handler.on_update, old, new)
            elif old is not None:
                self._call(handler.on_delete, old)

    async def _resync(self) -> None:
        await self._reflector.wait_for_sync()
        while True:
            await asyncio.sleep(self._resync_period)
            for obj in self.store.list():
                self._notify(obj, obj)

    async def _detect_mutations(self) -> None:
        """As upstream's cache mutation detector: check every second, fail loudly."""
        while True:
            await asyncio.sleep(MUTATION_CHECK_PERIOD)
            try:
                self.store.check_mutations()
            except CacheMutationError:
                log.critical("%s: a handler or reader changed cached objects", self.resource.plural)
                raise

    @staticmethod
    def _call(function: Callable[..., None] | None, *objects: Object) -> None:
        if function is None:
            return
        try:
            function(*objects)
        except Exception:
            log.exception("an informer's event handler failed")


class SharedInformerFactory:
    """One informer per resource and selection, shared by everything in a process."""

    def __init__(
        self, client: ApiClient, *, namespace: str | None = None, resync_period: float = 0.0
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._resync_period = resync_period
        self._informers: dict[tuple[Resource, str | None, str | None], Informer] = {}

    def informer(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> Informer:
        """The informer of ``resource`` with these selectors, made on first request.

        ``indexers`` are added to it (an index asked for twice is kept once).
        """
        key = (resource, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = self._informers[key] = Informer(
                self._client,
                resource,
                namespace=self._namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self._resync_period,
            )
        if indexers:
            missing = {
                name: f for name, f in indexers.items() if not informer.store.has_index(name)
            }
            if missing:
                informer.store.add_indexers(missing)
        return informer

    def start(self) -> None:
        """Start every informer made so far (again after more are made: only the new start)."""
        for informer in self._informers.values():
            informer.start()

    async def wait_for_cache_sync(self) -> None:
        await asyncio.gather(*(informer.wait_for_sync() for informer in self._informers.values()))

    async def shutdown(self) -> None:
        await asyncio.gather(*(informer.stop() for informer in self._informers.values()))
