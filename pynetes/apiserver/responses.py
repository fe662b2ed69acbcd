"""Request bodies in, JSON responses out."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pynetes.apiserver import negotiation


async def read_body(request: web.Request) -> Any:
    """The decoded body (400 malformed, 413 too large, 415 unknown type)."""
    raw = await request.content.read(negotiation.MAX_BODY_BYTES + 1)
    content_type = negotiation.content_type_of(request.headers.get("Content-Type"))
    return negotiation.decode_body(raw, content_type)


async def read_optional_body(request: web.Request) -> Any:
    """As read_body, but an empty body is None (DELETE without DeleteOptions)."""
    raw = await request.content.read(negotiation.MAX_BODY_BYTES + 1)
    if not raw.strip():
        return None
    content_type = negotiation.content_type_of(request.headers.get("Content-Type"))
    return negotiation.decode_body(raw, content_type)


def raw_json(body: bytes, *, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=body, status=status, content_type="application/json")
    for warning in warnings or ():
        response.headers.add("Warning", f'299 - "{warning}"')
    return response


def json_response(
    obj: Any, *, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    return raw_json(orjson.dumps(obj), status=status, warnings=warnings)
