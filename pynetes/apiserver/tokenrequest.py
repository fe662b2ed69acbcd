"""``serviceaccounts/token``: TokenRequest, as upstream's TokenREST.

POST an ``authentication.k8s.io/v1`` TokenRequest for a ServiceAccount and
get it back with ``status.token`` (a signed JWT, see auth/serviceaccount.py)
and ``status.expirationTimestamp``. Audiences default to the API server's
(``--api-audiences``), ``expirationSeconds`` to 3600 (at least 600). A
``boundObjectRef`` (a Pod or a Secret in the account's namespace) binds the
token to that object's UID: the token stops authenticating once the object
is gone. A pod must run as the account; a pod on a node also names the node.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pynetes.api import errors, meta
from pynetes.apiserver.auth.serviceaccount import BoundObject, TokenIssuer, claims
from pynetes.apiserver.responses import json_response, read_body
from pynetes.apiserver.shapes import check_shape

if TYPE_CHECKING:
    from pynetes.apiserver.handlers import ResourceApi, Target

Object = dict[str, Any]

GROUP = "authentication.k8s.io"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets"}


class TokenRequests:
    """Answers TokenRequests with tokens of ``issuer`` for ``audiences`` by default."""

    def __init__(self, issuer: TokenIssuer, audiences: Sequence[str]) -> None:
        self._issuer = issuer
        self._audiences = list(audiences)

    async def create(
        self, api: ResourceApi, request: web.BaseRequest, target: Target
    ) -> web.Response:
        body = await read_body(request)
        check_shape(
            body,
            "io.k8s.api.authentication.v1.TokenRequest",
            "TokenRequest",
            group_version=f"{GROUP}/v1",
        )
        token_request = _named(copy.deepcopy(body), target)
        spec = token_request["spec"] = token_request.get("spec") or {}
        if spec.get("expirationSeconds") is None:  # kubectl sends null
            spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
        _validate(spec, target.name)
        account = (await api.store_for(target.resource).get(target.namespace, target.name)).obj
        if not spec.get("audiences"):
            spec["audiences"] = list(self._audiences)
        now = api.clock()
        token_request["metadata"]["creationTimestamp"] = meta.timestamp(now)
        bound, node = await _bound_object(api, target, spec.get("boundObjectRef"))
        token = self._issuer.sign(
            claims(
                issuer=self._issuer.issuer,
                audiences=spec["audiences"],
                account=account,
                now=now,
                expiration_seconds=spec["expirationSeconds"],
                bound=bound,
                node=node,
            )
        )
        token_request["status"] = {
            "token": token,
            "expirationTimestamp": meta.timestamp(
                now + timedelta(seconds=spec["expirationSeconds"])
            ),
        }
        return json_response(token_request, status=201)


def _named(token_request: Object, target: Target) -> Object:
    """The request with the URL's name and namespace; 422 if its own differ."""
    token_request["apiVersion"] = f"{GROUP}/v1"
    token_request["kind"] = "TokenRequest"
    metadata = token_request.setdefault("metadata", {})
    for key, value, what in (
        ("name", target.name, "name"),
        ("namespace", target.namespace, "namespace"),
    ):
        if metadata.get(key) and metadata[key] != value:
            raise errors.invalid_object(
                GROUP,
                "TokenRequest",
                target.name,
                [
                    errors.invalid(
                        f"metadata.{key}",
                        metadata[key],
                        f"must match the service account {what} if specified",
                    )
                ],
            )
        metadata[key] = value
    return token_request


def _validate(spec: Object, name: str) -> None:
    seconds = spec["expirationSeconds"]
    problem = None
    if seconds < MIN_EXPIRATION_SECONDS:
        problem = "may not specify a duration less than 10 minutes"
    elif seconds > MAX_EXPIRATION_SECONDS:
        problem = "may not specify a duration larger than 2^32 seconds"
    if problem is not None:
        raise errors.invalid_object(
            GROUP,
            "TokenRequest",
            name,
            [errors.invalid("spec.expirationSeconds", seconds, problem)],
        )


async def _bound_object(
    api: ResourceApi, target: Target, ref: Object | None
) -> tuple[BoundObject | None, Object | None]:
    """What the token is bound to (and a bound pod's node), checked as upstream."""
    if not ref:
        return None, None
    kind, name = ref.get("kind", ""), ref.get("name", "")
    group = (ref.get("apiVersion") or "v1").rpartition("/")[0]
    plural = _BINDABLE.get(kind) if group == "" else None
    if plural is None:
        version = ref.get("apiVersion") or "v1"
        raise errors.bad_request(f"cannot bind token to object of type {version}, Kind={kind}")
    resource = api.resources.lookup("", "v1", plural)
    assert resource is not None
    found = (await api.store_for(resource).get(target.namespace, name)).obj
    node = None
    if kind == "Pod":
        spec = found.get("spec") or {}
        if spec.get("serviceAccountName") != target.name:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{target.name}" to pod running with'
                " different serviceaccount name."
            )
        node = await _node(api, spec.get("nodeName"))
    uid = found["metadata"].get("uid", "")
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.conflict(
            "",
            kind,
            name,
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in"
            " record. The object might have been deleted and then recreated",
        )
    return BoundObject(kind, name, uid), node


async def _node(api: ResourceApi, name: str | None) -> Object | None:
    """The pod's node, None when it has none or it is gone (the claim is then left out)."""
    if not name:
        return None
    nodes = api.resources.lookup("", "v1", "nodes")
    assert nodes is not None
    try:
        return (await api.store_for(nodes).get("", name)).obj
    except errors.ApiError as error:
        if error.code == 404:
            return None
        raise
