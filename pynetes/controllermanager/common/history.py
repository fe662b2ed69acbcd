"""Controller revisions: the template history of StatefulSets and DaemonSets.

As upstream's pkg/controller/history. A ControllerRevision (apps/v1) keeps
one version of an owner's pod template: ``data`` is the patch that puts it
back (``{"spec": {"template": {..., "$patch": "replace"}}}``, which is what
``kubectl rollout undo`` applies), ``revision`` orders the versions, and
the name is ``<owner>-<hash of data>``. Two revisions are equal when their
data are, so going back to an old template reuses (and renumbers) its
revision instead of making a new one. Hashes are FNV-32 over the data's
canonical JSON, written in upstream's safe alphabet; when a name is taken
by a different revision, the owner's ``status.collisionCount`` is raised
and joins the hash.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable
from typing import Any

import orjson

from pynetes.api.labels import Selector
from pynetes.api.meta import controller_of
from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.common.ownership import (
    ControllerRefManager,
    controller_reference,
    owner_still_adoptable,
)

Object = dict[str, Any]

CONTROLLER_REVISIONS = built_in("apps", "v1", "controllerrevisions")
#: The label of a pod (and of a DaemonSet's revisions) naming the revision it was made from.
CONTROLLER_REVISION_HASH = "controller-revision-hash"
#: The label of each revision holding its own hash (upstream's ControllerRevisionHashLabel).
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
#: Upstream keeps the name under 253 characters: the owner's part is cut to 223.
_MAX_PREFIX = 223
#: rand.SafeEncodeString's alphabet: no vowels, no 0/1/3 (no words, no look-alikes).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def template_patch(owner: Object) -> Object:
    """The revision data of ``owner``'s current pod template."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Object) -> Object:
    """The pod template ``revision`` holds (its data without the patch directive)."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def with_template_of(owner: Object, revision: Object) -> Object:
    """``owner`` as it was at ``revision`` (upstream's ApplyRevision): its template replaced."""
    restored = copy.deepcopy(owner)
    restored.setdefault("spec", {})["template"] = copy.deepcopy(template_of(revision))
    return restored


def hash_of(data: Object, collision_count: int | None) -> str:
    """The safe-encoded FNV-32 of ``data``'s canonical JSON and the collision count."""
    value = _FNV_OFFSET
    content = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        content += str(collision_count).encode()
    for byte in content:
        value = ((value * _FNV_PRIME) & 0xFFFFFFFF) ^ byte
    return "".join(_SAFE_ALPHABET[ord(digit) % len(_SAFE_ALPHABET)] for digit in str(value))


def revision_name(owner_name: str, hash_value: str) -> str:
    return f"{owner_name[:_MAX_PREFIX]}-{hash_value}"


def new_revision(
    owner: Object,
    api_version: str,
    kind: str,
    *,
    number: int,
    collision_count: int | None,
    hash_label: str = REVISION_HASH_LABEL,
) -> Object:
    """A revision (not yet created) of ``owner``'s template, numbered ``number``.

    Its labels are the template's, then its own hash under ``hash_label``
    (a DaemonSet's revisions use :data:`CONTROLLER_REVISION_HASH`, as its pods);
    its annotations are the owner's (``kubectl rollout history`` shows their
    ``kubernetes.io/change-cause``).
    """
    data = template_patch(owner)
    hash_value = hash_of(data, collision_count)
    template_labels = ((owner["spec"].get("template") or {}).get("metadata") or {}).get("labels")
    metadata: Object = {
        "name": revision_name(owner["metadata"]["name"], hash_value),
        "namespace": owner["metadata"]["namespace"],
        "labels": {
            **(template_labels or {}),
            hash_label: hash_value,
        },
        "ownerReferences": [controller_reference(owner, api_version, kind)],
    }
    if owner["metadata"].get("annotations"):
        metadata["annotations"] = dict(owner["metadata"]["annotations"])
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata,
        "data": data,
        "revision": number,
    }


def equal_revisions(left: Object, right: Object) -> bool:
    """Same template: equal data. (Upstream compares hash labels first, but parses
    them as integers, which safe-encoded hashes never are: the data decide.)"""
    return left.get("data") == right.get("data")


def sorted_revisions(revisions: Iterable[Object]) -> list[Object]:
    """Oldest first: by number, then creation time, then name (upstream's order)."""
    return sorted(
        revisions,
        key=lambda r: (
            r.get("revision") or 0,
            r["metadata"].get("creationTimestamp") or "",
            r["metadata"]["name"],
        ),
    )


def next_number(revisions: Iterable[Object]) -> int:
    """One more than the highest revision number (1 for none)."""
    return max((r.get("revision") or 0 for r in revisions), default=0) + 1


class RevisionHistory:
    """Writes the revisions of one kind of owner (``owner_resource``, of ``api_version``
    and ``kind``); callers read them from their informer's cache and pass them in.
    The new ones carry their hash under ``hash_label``."""

    def __init__(
        self,
        client: ApiClient,
        owner_resource: Resource,
        api_version: str,
        kind: str,
        hash_label: str = REVISION_HASH_LABEL,
    ) -> None:
        self._client = client
        self._owner_resource = owner_resource
        self.api_version = api_version
        self.kind = kind
        self.hash_label = hash_label

    async def claim(
        self, owner: Object, selector: Selector, candidates: Iterable[Object]
    ) -> list[Object]:
        """The revisions of ``owner`` among ``candidates``, adopting orphans its selector
        matches and releasing its own that no longer match."""
        manager = ControllerRefManager(
            self._client,
            CONTROLLER_REVISIONS,
            owner,
            self.api_version,
            self.kind,
            selector,
            owner_still_adoptable(self._client, self._owner_resource, owner),
        )
        return await manager.claim(candidates)

    def new(self, owner: Object, number: int, collision_count: int | None) -> Object:
        return new_revision(
            owner,
            self.api_version,
            self.kind,
            number=number,
            collision_count=collision_count,
            hash_label=self.hash_label,
        )

    async def create(self, owner: Object, number: int, collision_count: int) -> tuple[Object, int]:
        """Create the revision of ``owner``'s template (upstream's CreateControllerRevision).

        A name already taken by an equal revision of this owner is that
        revision; by anything else, a collision: the count goes up and the
        name changes. Returns the revision and the collision count used.
        """
        while True:
            revision = self.new(owner, number, collision_count)
            name = revision["metadata"]["name"]
            namespace = revision["metadata"]["namespace"]
            try:
                created = await self._client.create(CONTROLLER_REVISIONS, revision)
                return created, collision_count
            except errors.AlreadyExists:
                existing = await self._client.get(CONTROLLER_REVISIONS, name, namespace=namespace)
                reference = controller_of(existing) or {}
                ours = reference.get("uid") == owner["metadata"]["uid"]
                if ours and equal_revisions(existing, revision):
                    return existing, collision_count
                collision_count += 1

    async def renumber(self, revision: Object, number: int) -> Object:
        """Give ``revision`` the number ``number`` (a rollback makes an old one newest)."""
        if revision.get("revision") == number:
            return revision
        return await self._client.patch(
            CONTROLLER_REVISIONS,
            revision["metadata"]["name"],
            {"revision": number},
            namespace=revision["metadata"]["namespace"],
        )

    async def delete(self, revision: Object) -> None:
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self._client.delete(
                CONTROLLER_REVISIONS,
                revision["metadata"]["name"],
                namespace=revision["metadata"]["namespace"],
                preconditions={"uid": revision["metadata"]["uid"]},
            )

    async def truncate(self, revisions: Iterable[Object], keep: int, in_use: set[str]) -> None:
        """Delete the oldest revisions not named in ``in_use`` beyond ``keep`` of them."""
        unused = [r for r in sorted_revisions(revisions) if r["metadata"]["name"] not in in_use]
        for revision in unused[: max(len(unused) - keep, 0)]:
            await self.delete(revision)
