"""What resources a server offers, read from its legacy discovery documents.

As client-go's ``ServerPreferredResources``: the core ``v1`` resources and,
for every group of ``/apis``, the resources of its preferred version.
Subresources (``pods/status``) are left out. A group version whose document
cannot be read does not spoil the rest: it is reported in
:attr:`Discovery.failed`, as client-go's ``ErrGroupDiscoveryFailed`` is, so
that a caller can act on what it did learn and say what it did not.

Custom resources appear here as soon as the server serves them, which is
why controllers that must cover every kind (the garbage collector, the
namespace controller) discover rather than read a fixed table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pynetes.api.resources import Resource, built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient

Object = dict[str, Any]


@dataclass(frozen=True)
class Discovery:
    """The preferred version of every resource, and the group versions that failed."""

    resources: tuple[Resource, ...]
    #: ``group/version`` (``v1`` for core) -> why its document could not be read.
    failed: dict[str, str] = field(default_factory=dict)

    def supporting(self, *verbs: str) -> list[Resource]:
        """The resources offering every verb of ``verbs`` (``delete``, ``list``, ``watch``)."""
        return [r for r in self.resources if all(verb in r.verbs for verb in verbs)]

    def by_kind(self) -> dict[tuple[str, str], Resource]:
        """``(group, kind)`` -> resource, to find the resource an ownerReference names."""
        return {(r.group, r.kind): r for r in self.resources}


async def preferred_resources(client: ApiClient) -> Discovery:
    """Read ``/api/v1``, ``/apis`` and each group's preferred version document."""
    group_versions = ["v1"]
    failed: dict[str, str] = {}
    try:
        groups = await client.request("GET", "/apis")
    except errors.ApiError as error:
        failed["/apis"] = str(error)
        groups = {}
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            group_versions.append(preferred)
    documents = await asyncio.gather(
        *(_resource_list(client, gv) for gv in group_versions), return_exceptions=True
    )
    resources: list[Resource] = []
    for group_version, document in zip(group_versions, documents, strict=True):
        if isinstance(document, errors.ApiError):
            failed[group_version] = str(document)
        elif isinstance(document, BaseException):
            raise document
        else:
            resources.extend(_resources(group_version, document.get("resources") or []))
    return Discovery(tuple(resources), failed)


async def _resource_list(client: ApiClient, group_version: str) -> Object:
    prefix = "/api/" if group_version == "v1" else "/apis/"
    return await client.request("GET", prefix + group_version)


def _resources(group_version: str, entries: Iterable[Object]) -> list[Resource]:
    group, _, version = group_version.rpartition("/")
    return [
        _resource(group, version, entry) for entry in entries if "/" not in entry.get("name", "/")
    ]


def _resource(group: str, version: str, entry: Object) -> Resource:
    """The built-in :class:`Resource` when there is one, so informers of it are shared."""
    discovered = Resource(
        group=group,
        version=version,
        kind=entry.get("kind", ""),
        plural=entry["name"],
        namespaced=bool(entry.get("namespaced")),
        verbs=tuple(entry.get("verbs") or ()),
    )
    try:
        known = built_in(group, version, discovered.plural)
    except KeyError:
        return discovered
    same = (known.kind, known.namespaced, set(known.verbs))
    return (
        known
        if same == (discovered.kind, discovered.namespaced, set(discovered.verbs))
        else discovered
    )
