"""May this user do this: the authorizer protocol, and the attributes it decides on.

:func:`request_attributes` reads a request's method, path and query the way
upstream's RequestInfoFactory does: ``/api/v1/namespaces/ns/pods/web/log``
is a ``get`` of ``pods``, subresource ``log``, named ``web`` in ``ns``;
``/healthz`` is a non-resource request whose verb is the lowercase HTTP
method. The router reads the same attributes, so a request is parsed once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from pynetes.api.fields import SelectorSyntaxError, parse_terms
from pynetes.apiserver.auth.authentication import UserInfo

#: The first path segment of resource requests; under ``api`` (the core group)
#: no group segment follows.
API_PREFIXES = frozenset({"api", "apis"})
_GROUPLESS_PREFIX = "api"
#: Deprecated verbs given as a path segment: ``/api/v1/watch/pods``.
_PATH_VERBS = frozenset({"proxy", "watch"})
_NO_SUBRESOURCE_VERBS = frozenset({"proxy"})
#: Subresources of a namespace, not namespaced resources: ``/namespaces/ns/status``.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
#: Integer list options: a query value that is not one makes upstream drop the
#: parsed options, so a field-selected name no longer counts.
_INTEGER_LIST_OPTIONS = ("limit", "timeoutSeconds")
_INT64 = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class Attributes:
    """Upstream's authorizer.Attributes: who does what to which object.

    ``user`` is None only for an unauthenticated request to a public path.
    For a non-resource request only ``user``, ``verb`` and ``path`` are set.
    """

    user: UserInfo | None
    verb: str
    path: str
    is_resource_request: bool = False
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


#: Where the server keeps a request's attributes once it has authenticated it.
REQUEST_ATTRIBUTES = web.RequestKey("attributes", Attributes)


def request_user(request: web.BaseRequest) -> UserInfo | None:
    """The user who sent ``request`` (None before authentication, or for a public path)."""
    attributes = request.get(REQUEST_ATTRIBUTES)
    return None if attributes is None else attributes.user


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorizer's answer; ``reason`` says why, for logs and audit."""

    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    async def authorize(self, attributes: Attributes) -> Decision:
        """Whether ``attributes.user`` may do what the attributes describe."""
        ...

    async def rules_for(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """What ``user`` may do in ``namespace``: a SelfSubjectRulesReview's status."""
        ...


class AlwaysAllow:
    """Allows everything (kube-apiserver's ``--authorization-mode=AlwaysAllow``)."""

    async def authorize(self, attributes: Attributes) -> Decision:
        return Decision(allowed=True)

    async def rules_for(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """Everything, as upstream's AlwaysAllow lists it."""
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }


class RequestInfoError(ValueError):
    """A resource path that names no resource (``/api/v1/watch``).

    Upstream answers 500, as text: ``Internal Server Error: "<uri>": failed
    to create RequestInfo: <this message>``.
    """


def request_attributes(
    method: str, path: str, query: Mapping[str, str], *, user: UserInfo | None
) -> Attributes:
    """The attributes of a request, derived as upstream's RequestInfoFactory does.

    ``path`` is the decoded URL path; ``query`` maps each query parameter to
    its first value. Raises :class:`RequestInfoError` for a path verb with
    nothing after it.
    """
    parts = _split_path(path)
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return Attributes(user=user, verb=method.lower(), path=path)
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix != _GROUPLESS_PREFIX:
        if len(parts) < 3:
            return Attributes(user=user, verb=method.lower(), path=path)
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]

    if parts[0] in _PATH_VERBS:
        if len(parts) < 2:
            raise RequestInfoError(f"unable to determine kind and namespace from url, {path}")
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")

    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]

    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb not in _NO_SUBRESOURCE_VERBS else ""

    if not name and verb == "get":
        verb = "watch" if _query_bool(query.get("watch")) else "list"
        name = _listed_name(query)
    if not name and verb == "delete":
        verb = "deletecollection"

    return Attributes(
        user=user,
        verb=verb,
        path=path,
        is_resource_request=True,
        namespace=namespace,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=subresource,
        name=name,
    )


def _split_path(path: str) -> list[str]:
    trimmed = path.strip("/")
    return trimmed.split("/") if trimmed else []


def _query_bool(value: str | None) -> bool:
    """Upstream's query booleans: present and neither ``0`` nor ``false`` (any case)."""
    return value is not None and value != "0" and value.lower() != "false"


def _listed_name(query: Mapping[str, str]) -> str:
    """The name a list or watch selects with ``fieldSelector=metadata.name=<name>``.

    Authorizers then see the name, so a role limited to ``resourceNames``
    can watch its one object (``kubectl get pod web -w``). As upstream,
    nothing counts when the list options do not parse, and a name that
    could not be a path segment is ignored. (Upstream also drops it for an
    unparsable label selector; that check is left to the selector parser.)
    """
    if any(key in query and not _is_int64(query[key]) for key in _INTEGER_LIST_OPTIONS):
        return ""
    try:
        terms = parse_terms(query.get("fieldSelector", ""))
    except SelectorSyntaxError:
        return ""
    for term in terms:
        if term.field == "metadata.name" and term.operator != "!=":
            return term.value if _is_path_segment_name(term.value) else ""
    return ""


def _is_int64(value: str) -> bool:
    return _INT64.fullmatch(value) is not None and -(2**63) <= int(value) < 2**63


def _is_path_segment_name(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name
