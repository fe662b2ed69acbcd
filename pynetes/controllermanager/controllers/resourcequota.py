"""The resourcequota controller: each ResourceQuota's ``status.hard`` and ``status.used``.

As upstream's ResourceQuotaController: ``status.hard`` is the spec's hard
limits; ``status.used`` has, for each of them an evaluator knows (see
:mod:`pynetes.quota.evaluators`), the sum over the namespace's objects the
quota's scopes select; a limit no evaluator knows keeps the use last
recorded. A quota is recomputed when its spec changes, when an object it
counts is added, changed in a way that changes its use, or deleted, and
every ``--resource-quota-sync-period`` (5m). Only the resources some quota
names are watched, each from the first sync that needs it; a ``count/``
name for a resource the API does not serve (yet) is left out of
``status.used`` until a later sync finds it (such a quota looks again every
``DISCOVERY_RETRY`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pynetes.api import meta
from pynetes.api.resources import BUILT_IN, Resource, built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.rest import ApiClient
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.controllermanager.options import duration
from pynetes.quota.amounts import ZERO, Amounts, add, parse_list, render
from pynetes.quota.evaluators import (
    PODS,
    Tracked,
    scope_requirements,
    selected,
    tracked_by,
    usage,
)

log = logging.getLogger(__name__)

Object = dict[str, Any]

QUOTAS = built_in("", "v1", "resourcequotas")
#: How soon a quota naming a resource the API does not serve looks again (upstream's
#: quota monitor rediscovers resources every 30 s).
DISCOVERY_RETRY = 30.0


class ResourceQuotaController:
    """Keeps every ResourceQuota's status in step with what its namespace uses."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._informers = context.informers
        self._wall_clock = context.wall_clock
        self._sync_period: float = context.options.resource_quota_sync_period
        quotas = context.informers.informer(QUOTAS)
        self._quotas = Lister(quotas.store)
        self._controller = Controller(
            "resourcequota",
            self._sync,
            queue=context.queue("resourcequota_primary"),
            workers=context.workers(CONTROLLER.workers_option, CONTROLLER.default_workers),
        )
        self._counted: dict[Tracked, Lister] = {}
        #: Per quota, the resourceVersion of its last status write: a cached quota older
        #: than that shows a status we already replaced, so comparing with it would miss
        #: a change (the cache catches up within moments; the sync is retried).
        self._written: dict[str, int] = {}
        self._watching = asyncio.Lock()
        quotas.add_event_handler(EventHandler(on_add=self._enqueue, on_update=self._quota_changed))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._controller.run())
            tasks.create_task(self._resync_periodically())

    def _enqueue(self, quota: Object) -> None:
        self._controller.queue.add(f"{meta.namespace_of(quota)}/{meta.name_of(quota)}")

    def _quota_changed(self, old: Object, new: Object) -> None:
        """A new spec, or a status that does not reflect it, needs a sync (not our own writes)."""
        spec = new.get("spec") or {}
        if old.get("spec") != spec or _hard(new) != parse_list(
            (new.get("status") or {}).get("hard")
        ):
            self._enqueue(new)

    async def _resync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._sync_period)
            for quota in self._quotas.list():
                self._enqueue(quota)

    # -- sync --------------------------------------------------------------------

    async def _sync(self, key: str) -> Result:
        namespace, _, name = key.partition("/")
        quota = self._quotas.get(name, namespace)
        if quota is None:
            self._written.pop(key, None)
            return Result()
        if meta.resource_version(quota) < self._written.get(key, 0):
            return Result(requeue=True)
        hard = _hard(quota)
        status = quota.get("status") or {}
        used = parse_list(status.get("used"))
        unserved = False
        for tracked, names in _names_by_resource(hard).items():
            objects = await self._objects(tracked, namespace)
            if objects is None:
                unserved = True
            else:
                used.update(self._measure(quota, tracked, names, objects))
        used = {name: used[name] for name in hard if name in used}
        done = Result(requeue_after=DISCOVERY_RETRY) if unserved else Result()
        if parse_list(status.get("hard")) == hard and parse_list(status.get("used")) == used:
            return done
        new_status = {"hard": (quota.get("spec") or {}).get("hard") or {}, "used": render(used)}
        try:
            written = await self._client.replace(
                QUOTAS, {**quota, "status": new_status}, subresource="status"
            )
        except (errors.Conflict, errors.NotFound):
            return Result(requeue=True)  # a newer quota (or none) is on its way to the cache
        self._written[key] = meta.resource_version(written)
        return done

    def _measure(
        self, quota: Object, tracked: Tracked, names: list[str], objects: list[Object]
    ) -> Amounts:
        """The use of ``names`` by the ``objects`` the quota's scopes select."""
        requirements = scope_requirements(quota)
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        total: Amounts = dict.fromkeys(names, ZERO)
        for obj in objects:
            if selected(tracked, obj, requirements):
                add(total, usage(tracked, obj, now))
        return {name: total[name] for name in names}

    # -- what is watched ---------------------------------------------------------

    async def _objects(self, tracked: Tracked, namespace: str) -> list[Object] | None:
        """The namespace's objects of ``tracked``; None if the API does not serve it."""
        lister = self._counted.get(tracked) or await self._watch(tracked)
        return None if lister is None else lister.list(namespace)

    async def _watch(self, tracked: Tracked) -> Lister | None:
        """Start (once) the informer of ``tracked`` and wait for it to list."""
        async with self._watching:
            if tracked in self._counted:
                return self._counted[tracked]
            resource = await _resolve(self._client, tracked)
            if resource is None:
                log.debug("resource %s is not served: its quota use is not counted", tracked)
                return None
            informer = self._informers.informer(resource)
            informer.add_event_handler(self._replenisher(tracked))
            self._informers.start()
            await informer.wait_for_sync()
            lister = self._counted[tracked] = Lister(informer.store)
            return lister

    def _replenisher(self, tracked: Tracked) -> EventHandler:
        """Handlers that queue the quotas of an object's namespace that count ``tracked``."""

        def counting(obj: Object) -> list[Object]:
            return [
                quota
                for quota in self._quotas.list(meta.namespace_of(obj))
                if tracked in _names_by_resource(_hard(quota))
            ]

        def touched(obj: Object) -> None:
            for quota in counting(obj):
                self._enqueue(quota)

        def updated(old: Object, new: Object) -> None:
            quotas = counting(new)  # first: most namespaces have none, and that is cheap
            if quotas and _use_may_differ(tracked, old, new, self._wall_clock()):
                for quota in quotas:
                    self._enqueue(quota)

        return EventHandler(on_add=touched, on_update=updated, on_delete=touched)


def _use_may_differ(tracked: Tracked, old: Object, new: Object, now: float) -> bool:
    """Whether an update can change what the object counts for (its use or its scopes)."""
    moment = datetime.fromtimestamp(now, UTC)
    if usage(tracked, old, moment) != usage(tracked, new, moment):
        return True
    if tracked != PODS:
        return False
    deadline = "activeDeadlineSeconds"
    return (old.get("spec") or {}).get(deadline) != (new.get("spec") or {}).get(deadline)


def _hard(quota: Object) -> Amounts:
    return parse_list((quota.get("spec") or {}).get("hard"))


def _names_by_resource(hard: Amounts) -> dict[Tracked, list[str]]:
    grouped: dict[Tracked, list[str]] = {}
    for name in hard:
        tracked = tracked_by(name)
        if tracked is not None:
            grouped.setdefault(tracked, []).append(name)
    return grouped


async def _resolve(client: ApiClient, tracked: Tracked) -> Resource | None:
    """The namespaced resource ``tracked`` names: a built-in one, or one found by discovery."""
    for resource in BUILT_IN:
        if (resource.group, resource.plural) == (tracked.group, tracked.plural):
            return resource if resource.namespaced else None
    if not tracked.group:
        return None
    try:
        group = await client.request("GET", f"/apis/{tracked.group}")
        version = (group.get("preferredVersion") or {}).get("version")
        listing = await client.request("GET", f"/apis/{tracked.group}/{version}")
    except errors.ApiError:
        return None
    for found in listing.get("resources") or ():
        if found.get("name") == tracked.plural and found.get("namespaced"):
            return Resource(tracked.group, version, found.get("kind") or "", tracked.plural, True)
    return None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resource-quota-sync-period",
        type=duration,
        default=300.0,
        help="the period for syncing quota usage status in the system",
    )


CONTROLLER = ControllerDescriptor(
    name="resourcequota",
    build=ResourceQuotaController,
    concurrency_flag="--concurrent-resource-quota-syncs",
    default_workers=5,
    add_arguments=_add_arguments,
)
