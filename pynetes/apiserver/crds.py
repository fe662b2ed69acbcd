"""CustomResourceDefinitions: custom resources served as soon as their CRD is stored.

Upstream's apiextensions-apiserver runs controllers that accept a CRD's
names, mark it Established and start serving its resources. Here one task
follows the CRD watch cache and does the same in process: for each CRD it
sets the ``NamesAccepted`` and ``Established`` conditions, registers a
:class:`Resource` per served version (with the CRD's schema, printer
columns and subresources) and starts an :class:`ObjectStore` for it; when a
CRD goes, its resources stop being served and their objects are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pynetes.api import meta
from pynetes.api.resources import Resource, ResourceRegistry
from pynetes.apiserver.registry import ObjectStore
from pynetes.apiserver.watchcache import DELETED, EventWatcher

log = logging.getLogger(__name__)

Object = dict[str, Any]
StoreFactory = Callable[[Resource], ObjectStore]
_OBJECT_META = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def resources_of(crd: Object) -> list[Resource]:
    """The resources a CRD defines: one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    found = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        served_subresources = tuple(
            name for name in ("scale", "status") if subresources.get(name) is not None
        )
        found.append(
            Resource(
                group=spec.get("group", ""),
                version=version.get("name", ""),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=served_subresources,
                custom={
                    "schema": _object_schema((version.get("schema") or {}).get("openAPIV3Schema")),
                    "printerColumns": version.get("additionalPrinterColumns"),
                    "scale": subresources.get("scale"),
                    "crd": meta.name_of(crd),
                },
            )
        )
    return found


def _object_schema(schema: Object | None) -> Object:
    """The CRD's schema with the fields every object has, as upstream implies them."""
    found = dict(schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    properties = dict(found.get("properties") or {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = {"$ref": _OBJECT_META}
    found["properties"] = properties
    return found


def established_status(crd: Object, now: str) -> Object:
    spec = crd.get("spec") or {}
    storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    conditions = [
        {
            "type": "NamesAccepted",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "NoConflicts",
            "message": "no conflicts found",
        },
        {
            "type": "Established",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    return {
        "conditions": conditions,
        "acceptedNames": spec.get("names") or {},
        "storedVersions": storage,
    }


class CrdController:
    """Keeps the served custom resources in step with the stored CRDs."""

    def __init__(
        self,
        crds: ObjectStore,
        registry: ResourceRegistry,
        stores: dict[Resource, ObjectStore],
        make_store: StoreFactory,
        on_change: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._crds = crds
        self._registry = registry
        self._stores = stores
        self._make_store = make_store
        self._on_change = on_change
        self._clock = clock
        self._served: dict[str, list[Resource]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        watcher = EventWatcher(self._crds.key_prefix(""), None)
        first = self._crds.cache.watch(watcher, after=None)
        for _kind, event in first:
            await self._sync(event.current.obj)
        self._task = asyncio.create_task(self._follow(watcher), name="crd-controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for resources in self._served.values():
            for resource in resources:
                await self._stores[resource].stop()

    async def _follow(self, watcher: EventWatcher) -> None:
        while True:
            batch = await watcher.next_batch()
            if not batch:
                log.warning("CRD watch closed; the CRD controller stops")
                return
            for kind, event in batch:
                try:
                    if kind == DELETED:
                        await self._remove(meta.name_of(event.current.obj))
                    else:
                        await self._sync(event.current.obj)
                except Exception:
                    log.exception("serving CRD %s failed", meta.name_of(event.current.obj))

    async def _sync(self, crd: Object) -> None:
        name = meta.name_of(crd)
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            await self._remove(name)
            return
        wanted = resources_of(crd)
        current = self._served.get(name, [])
        if wanted != current or any(
            w.custom != c.custom for w, c in zip(wanted, current, strict=False)
        ):
            await self._remove(name, purge=False)
            for resource in wanted:
                store = self._make_store(resource)
                await store.start()
                self._stores[resource] = store
                self._registry.add(resource)
            self._served[name] = wanted
            self._on_change()
        if not _is_established(crd):
            await self._mark_established(name)

    async def _mark_established(self, name: str) -> None:
        now = meta.timestamp(self._clock())

        def establish(current: Object) -> Object:
            current["status"] = established_status(current, now)
            return current

        await self._crds.update_with("", name, establish, trusted=True)

    async def _remove(self, name: str, *, purge: bool = True) -> None:
        resources = self._served.pop(name, [])
        for resource in resources:
            self._registry.remove(resource.group, resource.version, resource.plural)
            store = self._stores.pop(resource, None)
            if store is None:
                continue
            await store.stop()
            if purge:
                await _delete_all(store)
        if resources:
            self._on_change()


def _is_established(crd: Object) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def _delete_all(store: ObjectStore) -> None:
    """Delete every object of a resource whose CRD is gone (its custom resources)."""
    page = await store.storage.list(store.resource.storage_prefix)
    for kv in page.items:
        with contextlib.suppress(Exception):
            await store.storage.delete(kv.key)
