"""The ownership graph: every watched object, its owners, and who depends on whom.

As upstream's GraphBuilder, it is fed by the informers of every deletable
resource and answers, after each change, which objects the deletion
workers must look at: a dependent whose owner is not (or no longer) known,
the dependents of an owner that went away or started a foreground
deletion, an owner waiting for its blocking dependents, and an owner to
orphan. It holds no API objects, only what the decisions need, and does no
I/O: the workers verify against the API server before they act.

Dependents are indexed by owner uid whether or not the owner itself was
seen (upstream's "virtual" nodes), so a late owner or a missing one are
handled alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pynetes.api.resources import Resource

Object = dict[str, Any]

#: The finalizers by which the API server asks the collector to carry out a policy.
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class OwnerRef:
    """One entry of ``metadata.ownerReferences``, as the collector needs it."""

    api_version: str
    kind: str
    name: str
    uid: str
    block_owner_deletion: bool = False

    @classmethod
    def parse(cls, reference: Object) -> OwnerRef:
        return cls(
            api_version=str(reference.get("apiVersion", "")),
            kind=str(reference.get("kind", "")),
            name=str(reference.get("name", "")),
            uid=str(reference.get("uid", "")),
            block_owner_deletion=reference.get("blockOwnerDeletion") is True,
        )

    @property
    def group(self) -> str:
        group, _, _version = self.api_version.rpartition("/")
        return group

    def describe(self, namespace: str) -> str:
        """How upstream's OwnerRefInvalidNamespace event names the reference."""
        return (
            f"[{self.api_version}/{self.kind}, namespace: {namespace}, name: {self.name},"
            f" uid: {self.uid}]"
        )


def owner_refs(obj: Object) -> tuple[OwnerRef, ...]:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return tuple(OwnerRef.parse(r) for r in references if isinstance(r, dict) and r.get("uid"))


@dataclass
class Node:
    """An object the informers have seen."""

    resource: Resource
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerRef, ...]
    being_deleted: bool = False
    finalizers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, resource: Resource, obj: Object) -> Node:
        metadata = obj.get("metadata") or {}
        return cls(
            resource=resource,
            namespace=metadata.get("namespace") or "",
            name=metadata.get("name") or "",
            uid=metadata.get("uid") or "",
            owners=owner_refs(obj),
            being_deleted=bool(metadata.get("deletionTimestamp")),
            finalizers=frozenset(metadata.get("finalizers") or ()),
        )

    @property
    def deleting_dependents(self) -> bool:
        """Foreground deletion: it waits for its blocking dependents to go first."""
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.being_deleted and ORPHAN in self.finalizers

    def reference_to(self, owner_uid: str) -> OwnerRef | None:
        return next((owner for owner in self.owners if owner.uid == owner_uid), None)


@dataclass
class Work:
    """Uids the workers must look at after a change."""

    attempt_to_delete: set[str] = field(default_factory=set)
    attempt_to_orphan: set[str] = field(default_factory=set)


class Graph:
    """Nodes by uid, and the uids of the dependents of every owner uid."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}

    def node(self, uid: str) -> Node | None:
        return self._nodes.get(uid)

    def dependents(self, owner_uid: str) -> Iterator[Node]:
        """The seen objects whose ownerReferences name ``owner_uid``."""
        for uid in tuple(self._dependents.get(owner_uid, ())):
            node = self._nodes.get(uid)
            if node is not None:
                yield node

    def blocking_dependents(self, owner_uid: str) -> list[Node]:
        """Dependents whose reference to ``owner_uid`` has ``blockOwnerDeletion``."""
        return [
            node
            for node in self.dependents(owner_uid)
            if (reference := node.reference_to(owner_uid)) and reference.block_owner_deletion
        ]

    def owner_is_known(self, node: Node, reference: OwnerRef) -> bool:
        """The owner was seen where ``node`` may have it (its namespace, or cluster scope)."""
        owner = self._nodes.get(reference.uid)
        if owner is None:
            return False
        if not owner.resource.namespaced:
            return True
        return bool(node.namespace) and owner.namespace == node.namespace

    def observe(self, resource: Resource, obj: Object) -> Work:
        """An object was added or changed."""
        new = Node.of(resource, obj)
        if not new.uid:
            return Work()
        old = self._nodes.get(new.uid)
        self._nodes[new.uid] = new
        work = Work()
        old_owners = {o.uid: o for o in old.owners} if old is not None else {}
        new_owners = {o.uid: o for o in new.owners}
        for uid in old_owners.keys() - new_owners.keys():
            self._unlink(uid, new.uid)
        for uid in new_owners.keys() - old_owners.keys():
            self._dependents.setdefault(uid, set()).add(new.uid)
        if old is None or old_owners != new_owners:
            # an owner let go of (or unblocked) may be waiting for this dependent
            work.attempt_to_delete.update(self._waiting_owners(old_owners.keys()))
        if any(
            not self.owner_is_known(new, owner) or self.is_waiting(owner.uid)
            for owner in new.owners
        ):
            work.attempt_to_delete.add(new.uid)
        if new.orphaning:
            work.attempt_to_orphan.add(new.uid)
        if new.deleting_dependents:
            work.attempt_to_delete.add(new.uid)
            if old is None or not old.deleting_dependents:
                work.attempt_to_delete.update(d.uid for d in self.dependents(new.uid))
        return work

    def forget(self, obj: Object) -> Work:
        """An object was deleted: its dependents lost an owner, its owners a dependent."""
        uid = (obj.get("metadata") or {}).get("uid") or ""
        node = self._nodes.pop(uid, None)
        if node is None:
            return Work()
        for owner in node.owners:
            self._unlink(owner.uid, uid)
        work = Work()
        work.attempt_to_delete.update(d.uid for d in self.dependents(uid))
        work.attempt_to_delete.update(self._waiting_owners(o.uid for o in node.owners))
        return work

    def is_waiting(self, owner_uid: str) -> bool:
        """The owner was seen in foreground deletion, waiting for its dependents."""
        owner = self._nodes.get(owner_uid)
        return owner is not None and owner.deleting_dependents

    def _waiting_owners(self, owner_uids: Iterable[str]) -> set[str]:
        return {uid for uid in owner_uids if self.is_waiting(uid)}

    def _unlink(self, owner_uid: str, dependent_uid: str) -> None:
        dependents = self._dependents.get(owner_uid)
        if dependents is None:
            return
        dependents.discard(dependent_uid)
        if not dependents:
            del self._dependents[owner_uid]
