"""The namespace controller: a deleted namespace is emptied, then goes.

Deleting a namespace makes the API server mark it (``deletionTimestamp``,
phase ``Terminating``) and keep it while ``spec.finalizers`` holds
``kubernetes``. This controller, as upstream's NamespaceController, then
deletes everything in it (:mod:`.deleter`), writes the five deletion
conditions to its status on each pass (:mod:`.conditions`), and once the
namespace is empty removes ``kubernetes`` through the ``finalize``
subresource, whereupon the API server deletes the namespace.

What cannot be deleted yet (content held by finalizers, pods in their grace
period) leaves the namespace Terminating, its conditions saying what
remains; it is looked at again after half the estimated wait plus a second.
Failures (discovery, deletion) are retried with per-namespace exponential
backoff from 5 ms to 60 s, as upstream's queue does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynetes.api import meta
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.client.workqueue import ItemExponentialFailureRateLimiter
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.controllers.namespace.conditions import (
    Findings,
    updated_conditions,
)
from pynetes.controllermanager.controllers.namespace.deleter import delete_all_content
from pynetes.controllermanager.descriptor import ControllerDescriptor

Object = dict[str, Any]

NAMESPACES = built_in("", "v1", "namespaces")
#: The spec finalizer this controller owns.
FINALIZER = "kubernetes"
#: Failure backoff of a namespace (upstream's 5 ms doubling to 60 s).
BACKOFF_BASE, BACKOFF_MAX = 0.005, 60.0


class NamespaceController:
    """Empties and finalizes namespaces being deleted."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._wall_clock = context.wall_clock
        informer = context.informers.informer(NAMESPACES)
        self._namespaces = Lister(informer.store)
        self._controller = Controller(
            "namespace",
            self._sync,
            workers=context.workers("concurrent_namespace_syncs", 10),
            queue=context.queue(
                "namespace", ItemExponentialFailureRateLimiter(BACKOFF_BASE, BACKOFF_MAX)
            ),
        )
        queue = self._controller.queue

        def changed(namespace: Object) -> None:
            if namespace["metadata"].get("deletionTimestamp"):
                queue.add(namespace["metadata"]["name"])

        informer.add_event_handler(
            EventHandler(on_add=changed, on_update=lambda _old, new: changed(new))
        )

    async def run(self) -> None:
        await self._controller.run()

    async def _sync(self, name: str) -> Result:
        cached = self._namespaces.get(name)
        if cached is None or not cached["metadata"].get("deletionTimestamp"):
            return Result()
        namespace = await self._latest(name)
        if namespace is None or not _being_finalized(namespace):
            return Result()
        outcome = await delete_all_content(self._client, name)
        await self._report(name, outcome.findings)
        if not outcome.done:
            if outcome.estimate:
                return Result(requeue_after=outcome.estimate // 2 + 1)
            return Result(requeue=True)
        await self._finalize(name)
        return Result()

    async def _latest(self, name: str) -> Object | None:
        try:
            return await self._client.get(NAMESPACES, name)
        except errors.NotFound:
            return None

    async def _report(self, name: str, findings: Findings) -> None:
        """Write the deletion conditions (and phase Terminating), retrying conflicts."""
        now = meta.timestamp(datetime.fromtimestamp(self._wall_clock(), UTC))
        while (namespace := await self._latest(name)) is not None:
            status = namespace.setdefault("status", {})
            wanted = {
                **status,
                "phase": "Terminating",
                "conditions": updated_conditions(status.get("conditions") or [], findings, now),
            }
            if wanted == status:
                return
            namespace["status"] = wanted
            try:
                await self._client.replace(NAMESPACES, namespace, subresource="status")
            except errors.Conflict:
                continue
            return

    async def _finalize(self, name: str) -> None:
        """Take :data:`FINALIZER` out of ``spec.finalizers`` (the namespace then goes)."""
        while (namespace := await self._latest(name)) is not None:
            if not _being_finalized(namespace):
                return
            spec = namespace.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != FINALIZER]
            try:
                await self._client.replace(NAMESPACES, namespace, subresource="finalize")
            except errors.Conflict:
                continue
            except errors.NotFound:
                return
            return


def _being_finalized(namespace: Object) -> bool:
    """Deleted, and still waiting for this controller's finalizer."""
    finalizers = (namespace.get("spec") or {}).get("finalizers") or ()
    return bool(namespace["metadata"].get("deletionTimestamp")) and FINALIZER in finalizers


CONTROLLER = ControllerDescriptor(
    name="namespace",
    build=NamespaceController,
    concurrency_flag="--concurrent-namespace-syncs",
    default_workers=10,
)
