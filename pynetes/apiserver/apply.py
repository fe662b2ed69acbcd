"""Server-side apply: ``PATCH`` with ``application/apply-patch+yaml``.

The applied configuration is merged into the stored object by the field
manager (pynetes.api.fieldmanager), which owns the conflict rules and the
``managedFields`` bookkeeping; this module is the HTTP side: it needs a
``fieldManager``, creates the object when it does not exist yet (201), and
runs the result through decoding, admission and validation like any write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pynetes.api import errors, fieldmanager, meta
from pynetes.apiserver import query
from pynetes.apiserver.auth.authorization import request_user
from pynetes.apiserver.registry import ObjectStore

if TYPE_CHECKING:
    from pynetes.apiserver.handlers import ResourceApi, Target

Object = dict[str, Any]


async def server_side_apply(
    api: ResourceApi,
    request: web.BaseRequest,
    target: Target,
    store: ObjectStore,
    patch: Any,
    *,
    subresource: str | None,
    dry_run: bool,
) -> tuple[Object, int]:
    """The applied object and the HTTP status (201 when apply created it)."""
    manager = request.query.get("fieldManager")
    if not manager:
        raise errors.bad_request("PATCH /apply requires a fieldManager query parameter")
    force = query.boolean(request.query, "force")
    resource = target.resource
    if not isinstance(patch, dict) or not patch.get("apiVersion") or not patch.get("kind"):
        raise errors.bad_request("apiVersion and kind must be set in an applied configuration")
    applied = api.decoder.check_kind(resource, patch)
    name = meta.name_of(applied)
    if name and name != target.name:
        raise errors.bad_request(
            f"the name of the object ({name}) does not match the name on the URL ({target.name})"
        )
    mode = request.query.get("fieldValidation") or "Strict"
    node = resource.schema_node()
    now = meta.timestamp(api.clock())

    def merged(current: Object | None) -> Object:
        result = fieldmanager.apply(
            current,
            applied,
            manager=manager,
            node=node,
            force=force,
            api_version=resource.group_version,
            now=now,
            subresource=subresource or "",
        )
        obj, _warnings = api.decoder.validate_and_default(resource, result, mode)
        return obj

    # quota admission leaves subresources alone, as upstream's does
    admit = (
        None if subresource else api.admission.validate_update(resource, target.namespace, dry_run)
    )
    try:
        updated = await store.update_with(
            target.namespace,
            target.name,
            merged,
            subresource=subresource,
            dry_run=dry_run,
            admit=admit,
        )
    except errors.ApiError as error:
        if error.code != 404 or subresource:
            raise
    else:
        return updated, 200
    created = merged(None)
    meta.metadata(created)["name"] = target.name
    await api.admission.admit_create(resource, target.namespace, created)
    admit = api.admission.validate_create(resource, target.namespace, dry_run)
    created = await store.create(
        target.namespace, created, dry_run=dry_run, admit=admit, requester=request_user(request)
    )
    return created, 201
