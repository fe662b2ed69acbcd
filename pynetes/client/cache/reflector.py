"""The reflector: keeps a store in step with the API server (client-go's Reflector).

It lists the resource, replaces the store's content with the list, then
watches from the list's resourceVersion with a
:class:`~pynetes.client.watch.ResumingWatcher`, applying each event to the
store and telling ``notify`` what changed. When the watch's version expires
(410 Gone) it lists again; other failures are retried after a backoff. The
first list is served from the API server's watch cache (``resourceVersion=0``,
as client-go asks); a relist after Gone is a consistent read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.cache.indexer import Indexer, object_key
from pynetes.client.flowcontrol import Sleep
from pynetes.client.rest import ApiClient
from pynetes.client.retry import Backoff
from pynetes.client.watch import ADDED, DELETED, MODIFIED, ResumingWatcher, WatchEvent

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: ``notify(old, new)``: an add (old None), an update, or a delete (new None).
Notify = Callable[[Object | None, Object | None], None]

#: client-go watches for a random 5 to 10 minutes before it re-watches.
MIN_WATCH_TIMEOUT = 300


class Reflector:
    """Lists then watches ``resource`` into ``store``; :meth:`run` until cancelled."""

    def __init__(
        self,
        client: ApiClient,
        resource: Resource,
        store: Indexer,
        notify: Notify,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._resource = resource
        self._store = store
        self._notify = notify
        self._selection: dict[str, Any] = {
            "namespace": namespace,
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        self._backoff = backoff or Backoff(initial=0.8, cap=30.0)
        self._sleep = sleep
        self._synced = asyncio.Event()
        #: The version the store reflects: the last list's, event's or bookmark's.
        self.resource_version = ""
        #: Lists made so far: the first, then one per relist.
        self.lists = 0

    @property
    def has_synced(self) -> bool:
        """Whether the first list has been stored."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        failures = 0
        consistent = False
        while True:
            try:
                await self._list(consistent=consistent)
                failures = 0
                await self._watch()
            except errors.Gone:
                log.info("%s: watch expired; listing again", self._resource.plural)
                consistent = True
                continue
            except (errors.ApiError, errors.TransportError) as error:
                failures += 1
                log.warning("%s: list and watch failed: %s", self._resource.plural, error)
                await self._sleep(self._backoff.delay(failures))

    async def _list(self, *, consistent: bool) -> None:
        listed = await self._client.list_all(
            self._resource, **self._selection, resource_version=None if consistent else "0"
        )
        items = listed.get("items") or []
        kind = self._resource.kind
        api_version = self._resource.group_version
        for item in items:  # list items carry no kind, watch objects do: make them alike
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        self._replace(items)
        self.lists += 1
        self.resource_version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        self._synced.set()

    def _replace(self, items: list[Object]) -> None:
        """Store ``items``, telling what was added, changed, or went while unwatched."""
        previous = self._store.replace(items)
        for key, item in self._store.items():
            self._notify(previous.pop(key, None), item)
        for gone in previous.values():
            self._notify(gone, None)

    async def _watch(self) -> None:
        watcher = ResumingWatcher(
            self._client,
            self._resource,
            resource_version=self.resource_version,
            **self._selection,
            timeout_seconds=MIN_WATCH_TIMEOUT,
            on_bookmark=self._bookmark,
            sleep=self._sleep,
        )
        async with watcher:
            async for event in watcher:
                self._apply(event)
                self.resource_version = event.resource_version or self.resource_version

    def _bookmark(self, event: WatchEvent) -> None:
        self.resource_version = event.resource_version or self.resource_version

    def _apply(self, event: WatchEvent) -> None:
        obj = event.object
        if event.type in (ADDED, MODIFIED):
            self._notify(self._store.upsert(obj), obj)
        elif event.type == DELETED:
            old = self._store.delete(object_key(obj))
            self._notify(old if old is not None else obj, None)
