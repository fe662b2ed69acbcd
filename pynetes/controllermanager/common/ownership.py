"""Controller references: adopting orphans and releasing what stopped matching.

As upstream's ControllerRefManager: an object belongs to at most one
controller (the ownerReference with ``controller: true``). A controller
claims the objects its selector matches: it keeps its own that still
match, adopts matching orphans, and releases its own that no longer match.
Adoption and release are strategic merge patches on the ownerReferences
list (keyed by uid) that carry the object's uid, so a patch never lands on
a new object that took the name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynetes.api.labels import NOTHING, Selector, selector_from_label_selector
from pynetes.api.meta import controller_of, namespace_of
from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.cache.lister import Lister
from pynetes.client.rest import ApiClient

Object = dict[str, Any]

#: Informer index of objects by their controller's uid, orphans by namespace
#: (upstream's PodControllerUIDIndex and OrphanPodIndexKeyForNamespace): a
#: controller reads its own objects and the orphans it may adopt without
#: scanning the whole namespace.
CONTROLLER_UID_INDEX = "controllerUID"


def orphans_key(namespace: str) -> str:
    """The :data:`CONTROLLER_UID_INDEX` value of ``namespace``'s orphans (no uid has a ``/``)."""
    return f"orphans/{namespace}"


def by_controller_uid(obj: Object) -> list[str]:
    """The :data:`CONTROLLER_UID_INDEX` function."""
    reference = controller_of(obj)
    if reference is not None:
        return [reference.get("uid") or ""]
    return [orphans_key(namespace_of(obj))]


def controller_reference(owner: Object, api_version: str, kind: str) -> Object:
    """The ownerReference making ``owner`` (of ``api_version``/``kind``) the controller."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


@dataclass
class ControllerRefManager:
    """Claims objects of ``resource`` for ``owner`` (of ``api_version``/``kind``).

    ``can_adopt`` is awaited once before the first adoption; upstream's
    RecheckDeletionTimestamp reads the owner fresh from the API server and
    refuses if it is being deleted or was replaced (uid changed), since a
    stale cache must not adopt into a dying owner.
    """

    client: ApiClient
    resource: Resource
    owner: Object
    api_version: str
    kind: str
    selector: Selector
    can_adopt: Callable[[], Awaitable[bool]]

    async def claim(self, candidates: Iterable[Object]) -> list[Object]:
        """The objects of ``candidates`` the owner controls after adopting and releasing."""
        owner_uid = self.owner["metadata"]["uid"]
        owner_deleting = bool(self.owner["metadata"].get("deletionTimestamp"))
        claimed: list[Object] = []
        adoption_checked: bool | None = None
        for obj in candidates:
            matches = self.selector.matches(obj["metadata"].get("labels"))
            reference = controller_of(obj)
            if reference is not None:
                if reference.get("uid") != owner_uid:
                    continue
                if matches:
                    claimed.append(obj)
                elif not owner_deleting:
                    await self._release(obj)
                continue
            if not matches or owner_deleting or obj["metadata"].get("deletionTimestamp"):
                continue
            if adoption_checked is None:
                adoption_checked = await self.can_adopt()
            if adoption_checked and await self._adopt(obj):
                claimed.append(obj)
        return claimed

    async def _adopt(self, obj: Object) -> bool:
        reference = controller_reference(self.owner, self.api_version, self.kind)
        patch = {"metadata": {"ownerReferences": [reference], "uid": obj["metadata"]["uid"]}}
        return await self._patch(obj, patch)

    async def _release(self, obj: Object) -> None:
        removal = {"$patch": "delete", "uid": self.owner["metadata"]["uid"]}
        patch = {"metadata": {"ownerReferences": [removal], "uid": obj["metadata"]["uid"]}}
        await self._patch(obj, patch)

    async def _patch(self, obj: Object, patch: Object) -> bool:
        """Patch ``obj``; False if it is gone or was replaced (nothing to claim then)."""
        try:
            await self.client.patch(
                self.resource,
                obj["metadata"]["name"],
                patch,
                patch_type="strategic",
                namespace=obj["metadata"].get("namespace"),
            )
        except (errors.NotFound, errors.Invalid, errors.Conflict):
            return False
        return True


def owner_still_adoptable(
    client: ApiClient, resource: Resource, owner: Object
) -> Callable[[], Awaitable[bool]]:
    """Upstream's RecheckDeletionTimestamp: read ``owner`` fresh; adoptable if it is the
    same object (uid) and not being deleted."""

    async def check() -> bool:
        try:
            fresh = await client.get(
                resource, owner["metadata"]["name"], namespace=owner["metadata"].get("namespace")
            )
        except errors.NotFound:
            return False
        same = fresh["metadata"]["uid"] == owner["metadata"]["uid"]
        return same and not fresh["metadata"].get("deletionTimestamp")

    return check


def controlling_owner(obj: Object, kind: str, owners: Lister) -> Object | None:
    """The owner of ``kind`` in ``owners`` that controls ``obj``; None if there is none
    or the reference names an owner since replaced (another uid)."""
    reference = controller_of(obj)
    if reference is None or reference.get("kind") != kind:
        return None
    owner = owners.get(reference.get("name", ""), obj["metadata"].get("namespace"))
    if owner is None or owner["metadata"]["uid"] != reference.get("uid"):
        return None
    return owner


def owner_selector(owner: Object) -> Selector:
    """``owner``'s ``spec.selector``; one that cannot be read selects nothing (validation
    refuses those, so only a corrupt object has one)."""
    try:
        return selector_from_label_selector(owner["spec"].get("selector"))
    except errors.ApiError:
        return NOTHING
