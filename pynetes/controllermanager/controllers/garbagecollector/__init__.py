"""The garbage collector: dependents go when their owners do, as upstream's.

Objects name their owners in ``metadata.ownerReferences``. The collector
watches every deletable resource (:mod:`.monitors`), keeps the ownership
graph (:mod:`.graph`) and acts through two queues of uids
(:mod:`.workers`):

- background: a dependent whose owners are all gone is deleted;
- foreground: an owner deleted with ``propagationPolicy=Foreground`` (the
  API server gives it the ``foregroundDeletion`` finalizer) keeps existing
  until its dependents with ``blockOwnerDeletion`` are gone, which the
  collector deletes; then the finalizer is removed and the owner goes;
- orphan: an owner deleted with ``propagationPolicy=Orphan`` (finalizer
  ``orphan``) is taken out of its dependents' ownerReferences, then its
  finalizer is removed.

``--concurrent-gc-syncs`` (20) workers serve each queue;
``--enable-garbage-collector=false`` leaves the controller idle, as upstream
does not start it then.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pynetes.api.resources import Resource, built_in
from pynetes.cli.flags import add_bool_flag
from pynetes.client.cache.informer import EventHandler
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.garbagecollector.graph import Graph, Work
from pynetes.controllermanager.controllers.garbagecollector.monitors import Monitors
from pynetes.controllermanager.controllers.garbagecollector.workers import DeletionWorkers
from pynetes.controllermanager.descriptor import ControllerDescriptor

Object = dict[str, Any]

CUSTOM_RESOURCE_DEFINITIONS = built_in("apiextensions.k8s.io", "v1", "customresourcedefinitions")


class GarbageCollector:
    """The graph, the informers feeding it, and the workers acting on it."""

    def __init__(self, context: ControllerContext) -> None:
        self._enabled = bool(context.options.enable_garbage_collector)
        workers = context.workers("concurrent_gc_syncs", 20)
        self._graph = Graph()
        self._monitors = Monitors(context, self._handlers)
        self._deleter = Controller(
            "garbage_collector_attempt_to_delete",
            self._attempt_to_delete,
            workers=workers,
            queue=context.queue("garbage_collector_attempt_to_delete"),
        )
        self._orphaner = Controller(
            "garbage_collector_attempt_to_orphan",
            self._attempt_to_orphan,
            workers=workers,
            queue=context.queue("garbage_collector_attempt_to_orphan"),
        )
        self._workers = DeletionWorkers(
            context.client,
            self._graph,
            self._monitors.kinds,
            context.recorder("garbage-collector-controller"),
            enqueue=self._deleter.queue.add,
            rediscover=self._monitors.changed.set,
        )
        if self._enabled:
            context.informers.informer(CUSTOM_RESOURCE_DEFINITIONS).add_event_handler(
                EventHandler(
                    on_add=lambda _crd: self._monitors.changed.set(),
                    on_update=lambda _old, _new: self._monitors.changed.set(),
                    on_delete=lambda _crd: self._monitors.changed.set(),
                )
            )

    async def run(self) -> None:
        if not self._enabled:
            return
        if not await self._monitors.try_sync():
            self._monitors.changed.set()  # keep_in_sync retries at once, then backs off
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._monitors.keep_in_sync())
            tasks.create_task(self._deleter.run())
            tasks.create_task(self._orphaner.run())

    def _handlers(self, resource: Resource) -> EventHandler:
        def observe(obj: Object) -> None:
            self._schedule(self._graph.observe(resource, obj))

        return EventHandler(
            on_add=observe,
            on_update=lambda _old, new: observe(new),
            on_delete=lambda obj: self._schedule(self._graph.forget(obj)),
        )

    def _schedule(self, work: Work) -> None:
        for uid in work.attempt_to_delete:
            self._deleter.queue.add(uid)
        for uid in work.attempt_to_orphan:
            self._orphaner.queue.add(uid)

    async def _attempt_to_delete(self, uid: str) -> Result:
        return await self._workers.attempt_to_delete(uid)

    async def _attempt_to_orphan(self, uid: str) -> Result:
        return await self._workers.attempt_to_orphan(uid)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bool_flag(
        parser, "--enable-garbage-collector", True, "enables the generic garbage collector"
    )


CONTROLLER = ControllerDescriptor(
    name="garbagecollector",
    build=GarbageCollector,
    concurrency_flag="--concurrent-gc-syncs",
    default_workers=20,
    add_arguments=add_arguments,
)
