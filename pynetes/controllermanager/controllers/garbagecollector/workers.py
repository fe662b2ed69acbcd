"""The deletion workers: what the collector does to one object the graph points at.

``attempt_to_delete`` (upstream's attemptToDeleteItem) looks at an object:

- an owner in foreground deletion loses its ``foregroundDeletion``
  finalizer once no dependent blocks it (``blockOwnerDeletion``), and until
  then its blocking dependents are looked at;
- a dependent's owners are checked against the API server: an owner that
  answers 404, or has another uid under that name, or lives in another
  namespace, is absent; one being deleted in the foreground is waiting.
  With an owner still there, the absent ones are dropped from the
  dependent's ownerReferences and the waiting ones stop being blocked.
  With none there, the dependent is deleted: in the foreground when an
  owner waits and it has dependents of its own (so the wait propagates),
  otherwise with the policy its own finalizers ask for (Background if none).

``attempt_to_orphan`` takes an owner's uid out of its dependents'
ownerReferences, then removes its ``orphan`` finalizer.

Every write carries the object's uid or resourceVersion as a precondition,
so a worker acting on a stale view fails (and retries) rather than harm a
newer object.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.events import EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.controller import Result
from pynetes.controllermanager.controllers.garbagecollector.graph import (
    FOREGROUND,
    ORPHAN,
    Graph,
    Node,
    OwnerRef,
    owner_refs,
)

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: How many absent owners are remembered, sparing a GET per dependent (upstream's 500).
ABSENT_OWNER_CACHE_SIZE = 500
INVALID_NAMESPACE = "OwnerRefInvalidNamespace"


class OwnerState(enum.Enum):
    SOLID = "solid"
    DANGLING = "dangling"
    WAITING = "waitingForDependentsDeletion"


class UnresolvableOwner(Exception):
    """An ownerReference the collector cannot judge (yet): an unknown kind, say."""


class AbsentOwners:
    """The owners last found absent, by (uid, namespace looked in: "" for cluster scope);
    the least recently used are forgotten first."""

    def __init__(self, size: int = ABSENT_OWNER_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __contains__(self, key: tuple[str, str]) -> bool:
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        return False

    def add(self, key: tuple[str, str]) -> None:
        self._entries[key] = None
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class DeletionWorkers:
    """Acts on the uids the graph hands out; ``enqueue`` asks for another look at one."""

    def __init__(
        self,
        client: ApiClient,
        graph: Graph,
        kinds: dict[tuple[str, str], Resource],
        recorder: EventRecorder,
        enqueue: Callable[[str], None],
        rediscover: Callable[[], None],
    ) -> None:
        self._client = client
        self._graph = graph
        self._kinds = kinds
        self._recorder = recorder
        self._enqueue = enqueue
        self._rediscover = rediscover
        self._absent = AbsentOwners()

    # -- attempt to delete -----------------------------------------------------

    async def attempt_to_delete(self, uid: str) -> Result:
        node = self._graph.node(uid)
        if node is None or (node.being_deleted and not node.deleting_dependents):
            return Result()
        try:
            if node.deleting_dependents:
                await self._finish_foreground_deletion(node)
            elif not self._owners_look_solid(node):
                await self._judge_dependent(node)
        except errors.Conflict:
            return Result(requeue=True)  # changed meanwhile: look again after backoff
        except UnresolvableOwner as reason:
            log.info("garbage collector: %s/%s: %s", node.namespace, node.name, reason)
            return Result(requeue=True)
        return Result()

    def _owners_look_solid(self, node: Node) -> bool:
        """Every owner is seen where it should be and none waits: no need to ask the server."""
        return all(
            self._graph.owner_is_known(node, owner) and not self._graph.is_waiting(owner.uid)
            for owner in node.owners
        )

    async def _finish_foreground_deletion(self, owner: Node) -> None:
        blocking = self._graph.blocking_dependents(owner.uid)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self._enqueue(dependent.uid)

    async def _judge_dependent(self, node: Node) -> None:
        latest = await self._latest(node)
        if latest is None:
            return
        states: dict[OwnerState, list[OwnerRef]] = {state: [] for state in OwnerState}
        for owner in owner_refs(latest):
            state = await self._owner_state(node, latest, owner)
            if state is None:
                return  # an ownerReference that can never resolve: leave the object be
            states[state].append(owner)
        solid, dangling, waiting = (states[s] for s in OwnerState)
        if not (solid or dangling or waiting):
            return
        if solid:
            if dangling or waiting:
                await self._rewrite_owner_refs(node, latest, drop=dangling, unblock=waiting)
            return
        own_dependents = list(self._graph.dependents(node.uid))
        if waiting and own_dependents:
            if any(dependent.deleting_dependents for dependent in own_dependents):
                # a cycle of foreground deletions would wait forever: stop blocking
                await self._rewrite_owner_refs(node, latest, drop=[], unblock=waiting)
            await self._delete(node, "Foreground")
            return
        await self._delete(node, _policy_of(latest))

    async def _owner_state(self, node: Node, latest: Object, owner: OwnerRef) -> OwnerState | None:
        """Whether ``owner`` is there; None if it never can be (a namespaced owner of a
        cluster-scoped object, which upstream reports and does not retry)."""
        resource = self._kinds.get((owner.group, owner.kind))
        if resource is None:
            self._rediscover()
            raise UnresolvableOwner(
                f"ownerReference to unknown kind {owner.api_version}/{owner.kind}"
            )
        if resource.namespaced and not node.namespace:
            self._report_invalid_namespace(latest, owner, node.namespace)
            return None
        namespace = node.namespace if resource.namespaced else ""
        if (owner.uid, namespace) in self._absent:
            return OwnerState.DANGLING
        try:
            found = await self._client.get(resource, owner.name, namespace=namespace)
        except errors.NotFound:
            found = None
        if found is None or (found.get("metadata") or {}).get("uid") != owner.uid:
            self._absent.add((owner.uid, namespace))
            elsewhere = self._graph.node(owner.uid)
            if elsewhere is not None and elsewhere.namespace != node.namespace:
                self._report_invalid_namespace(latest, owner, node.namespace)
            return OwnerState.DANGLING
        metadata = found.get("metadata") or {}
        if metadata.get("deletionTimestamp") and FOREGROUND in (metadata.get("finalizers") or ()):
            return OwnerState.WAITING
        return OwnerState.SOLID

    def _report_invalid_namespace(self, latest: Object, owner: OwnerRef, namespace: str) -> None:
        self._recorder.event(
            latest,
            "Warning",
            INVALID_NAMESPACE,
            f'ownerRef {owner.describe(namespace)} does not exist in namespace "{namespace}"',
        )

    # -- attempt to orphan -----------------------------------------------------

    async def attempt_to_orphan(self, uid: str) -> Result:
        owner = self._graph.node(uid)
        if owner is None or not owner.orphaning:
            return Result()
        try:
            for dependent in list(self._graph.dependents(uid)):
                latest = await self._latest(dependent)
                if latest is not None:
                    dropped = [ref for ref in owner_refs(latest) if ref.uid == uid]
                    await self._rewrite_owner_refs(dependent, latest, drop=dropped, unblock=[])
            await self._remove_finalizer(owner, ORPHAN)
        except errors.Conflict:
            return Result(requeue=True)
        return Result()

    # -- writes ------------------------------------------------------------------

    async def _latest(self, node: Node) -> Object | None:
        """The object as the server has it now; None if gone or replaced by a namesake."""
        try:
            found = await self._client.get(node.resource, node.name, namespace=node.namespace)
        except errors.NotFound:
            return None
        return found if (found.get("metadata") or {}).get("uid") == node.uid else None

    async def _rewrite_owner_refs(
        self, node: Node, latest: Object, *, drop: list[OwnerRef], unblock: list[OwnerRef]
    ) -> None:
        dropped = {owner.uid for owner in drop}
        unblocked = {owner.uid for owner in unblock}
        current = (latest.get("metadata") or {}).get("ownerReferences") or []
        wanted = [
            {**ref, "blockOwnerDeletion": False} if ref.get("uid") in unblocked else ref
            for ref in current
            if ref.get("uid") not in dropped
        ]
        if wanted == current:
            return
        await self._patch_metadata(node, latest, {"ownerReferences": wanted or None})

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        latest = await self._latest(node)
        if latest is None:
            return
        finalizers = (latest.get("metadata") or {}).get("finalizers") or []
        if finalizer not in finalizers:
            return
        remaining = [f for f in finalizers if f != finalizer]
        await self._patch_metadata(node, latest, {"finalizers": remaining or None})

    async def _patch_metadata(self, node: Node, latest: Object, change: Object) -> None:
        """A merge patch of ``change`` that applies only to ``latest``'s resourceVersion."""
        version = latest["metadata"].get("resourceVersion")
        patch = {"metadata": {**change, "resourceVersion": version}}
        with contextlib.suppress(errors.NotFound):
            await self._client.patch(node.resource, node.name, patch, namespace=node.namespace)

    async def _delete(self, node: Node, policy: str) -> None:
        log.info(
            "garbage collector: deleting %s %s/%s (%s)",
            node.resource.kind,
            node.namespace,
            node.name,
            policy,
        )
        with contextlib.suppress(errors.NotFound):
            await self._client.delete(
                node.resource,
                node.name,
                namespace=node.namespace,
                propagation_policy=policy,
                preconditions={"uid": node.uid},
            )


def _policy_of(obj: Object) -> str:
    """The propagation a collected object's own finalizers ask for (Background if none)."""
    finalizers = (obj.get("metadata") or {}).get("finalizers") or ()
    if ORPHAN in finalizers:
        return "Orphan"
    if FOREGROUND in finalizers:
        return "Foreground"
    return "Background"
