"""The PATCH verb: JSON patch, merge patch, strategic merge patch and server-side apply.

A patch is applied to the stored object inside the registry's
read-modify-write loop, so a concurrent writer makes it retry rather than
lose an update; a patch that itself sets ``metadata.resourceVersion`` is an
optimistic lock and fails with 409 when stale instead. The result is decoded
like a request body (field validation, defaults) and validated as an update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pynetes.api import errors
from pynetes.api.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from pynetes.apiserver import negotiation, query
from pynetes.apiserver.apply import server_side_apply
from pynetes.apiserver.registry import ObjectStore
from pynetes.apiserver.responses import json_response, raw_json, read_raw

if TYPE_CHECKING:
    from pynetes.apiserver.handlers import ResourceApi, Target

Object = dict[str, Any]


async def apply_patch(
    api: ResourceApi,
    request: web.BaseRequest,
    target: Target,
    store: ObjectStore,
    *,
    subresource: str | None,
) -> web.StreamResponse:
    content_type = negotiation.content_type_of(request.headers.get("Content-Type"))
    resource = target.resource
    if content_type not in negotiation.PATCH_TYPES or (
        content_type == negotiation.STRATEGIC_MERGE_PATCH and resource.custom is not None
    ):
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include:"
            f" {negotiation.JSON_PATCH}, {negotiation.MERGE_PATCH}, {negotiation.APPLY_PATCH}"
            + ("" if resource.custom is not None else f", {negotiation.STRATEGIC_MERGE_PATCH}"),
        )
    raw = await read_raw(request)
    patch = negotiation.decode_body(raw, content_type)
    dry_run = query.dry_run(request.query)
    mode = request.query.get("fieldValidation") or "Warn"
    if content_type == negotiation.APPLY_PATCH:
        result, status = await server_side_apply(
            api, request, target, store, patch, subresource=subresource, dry_run=dry_run
        )
        return json_response(result, status=status)
    warnings: list[str] = []

    def change(current: Object) -> Object:
        patched = patched_object(content_type, current, patch, resource.schema_node())
        wanted = (patched.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise errors.conflict(
                resource.group,
                resource.plural,
                target.name,
                "the object has been modified; please apply your changes to the latest version"
                " and try again",
            )
        decoder = api.decoder
        obj = decoder.check_kind(resource, patched)
        obj, found = decoder.validate_and_default(resource, obj, mode)
        warnings[:] = found
        return api.tracked(request, resource, current, obj, subresource or "")

    # quota admission leaves subresources alone, as upstream's does
    admit = (
        None if subresource else api.admission.validate_update(resource, target.namespace, dry_run)
    )
    updated = await store.update_with(
        target.namespace,
        target.name,
        change,
        subresource=subresource,
        dry_run=dry_run,
        admit=admit,
    )
    body = store.written_json(target.namespace, updated, dry_run=dry_run)
    return raw_json(body, warnings=warnings)


def patched_object(content_type: str, current: Object, patch: Any, node: Any) -> Object:
    if content_type == negotiation.JSON_PATCH:
        result = apply_json_patch(current, patch)
    elif content_type == negotiation.MERGE_PATCH:
        result = apply_merge_patch(current, patch)
    else:
        if not isinstance(patch, dict):
            raise errors.bad_request("a strategic merge patch must be a JSON object")
        result = apply_strategic_merge_patch(current, patch, node)
    if not isinstance(result, dict):
        raise errors.ApiError(422, "Invalid", "the patch did not produce an object")
    return result
