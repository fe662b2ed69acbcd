"""Request bodies in, JSON responses out."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pynetes.api import errors
from pynetes.apiserver import negotiation


async def read_body(request: web.BaseRequest) -> Any:
    """The decoded body (400 malformed, 413 too large, 415 unknown type)."""
    raw = await read_raw(request)
    content_type = negotiation.content_type_of(request.headers.get("Content-Type"))
    return negotiation.decode_body(raw, content_type)


async def read_raw(request: web.BaseRequest) -> bytes:
    """The whole body; 413 past the limit (the application's client_max_size)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.request_entity_too_large(negotiation.MAX_BODY_BYTES) from None


async def read_optional_body(request: web.BaseRequest) -> Any:
    """As read_body, but an empty body is None (DELETE without DeleteOptions)."""
    raw = await read_raw(request)
    if not raw.strip():
        return None
    content_type = negotiation.content_type_of(request.headers.get("Content-Type"))
    return negotiation.decode_body(raw, content_type)


def raw_json(body: bytes, *, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=body, status=status, content_type="application/json")
    for warning in warnings or ():
        if not warning.isprintable():
            continue  # upstream drops a warning it cannot put in a header
        quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{quoted}"')
    return response


def json_response(
    obj: Any, *, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    return raw_json(orjson.dumps(obj), status=status, warnings=warnings)
