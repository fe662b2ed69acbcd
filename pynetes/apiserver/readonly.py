"""What the resources computed when read (metrics.k8s.io, ComponentStatus) share: only
GET and LIST, and answers as a Table, one object or a list of them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pynetes.api import errors, meta
from pynetes.api.resources import Resource
from pynetes.apiserver import negotiation, tables
from pynetes.apiserver.responses import json_response

Object = dict[str, Any]


def refuse_all_but_reads(request: web.BaseRequest) -> None:
    """A 405 for any verb the resource lacks: writes, and watches."""
    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed()
    if request.query.get("watch") in ("true", "1", "True"):
        raise errors.method_not_allowed()


def answer(
    request: web.BaseRequest,
    resource: Resource,
    objects: list[Object],
    *,
    name: str,
    warnings: list[str] | None = None,
) -> web.StreamResponse:
    """The Table kubectl asks for, else the object a GET names (``objects[0]``), else the
    list of ``objects`` (of ``resource``'s list kind)."""
    if negotiation.wants_table(negotiation.parse_media_types(request.headers.get("Accept"))):
        table = tables.table_for(
            resource.group,
            resource.plural,
            objects,
            include_object=request.query.get("includeObject", "Metadata"),
            now=meta.utc_now(),
            list_metadata=None if name else {},
        )
        return json_response(table, warnings=warnings)
    if name:
        return json_response(objects[0], warnings=warnings)
    listed = {"kind": resource.list_kind, "apiVersion": resource.group_version, "metadata": {}}
    return json_response({**listed, "items": objects}, warnings=warnings)
