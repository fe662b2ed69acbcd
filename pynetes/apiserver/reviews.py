"""Reviews: asked by POST, answered at once, never stored.

authorization.k8s.io/v1's access reviews ask the authorizer whether a user may
do something (``kubectl auth can-i``): SelfSubjectAccessReview for the caller,
SubjectAccessReview for anyone (controllers and webhooks ask these),
LocalSubjectAccessReview for anyone within a namespace, and
SelfSubjectRulesReview for everything the caller may do in a namespace
(``kubectl auth can-i --list``). authentication.k8s.io/v1's SelfSubjectReview
tells the caller who the server takes it for (``kubectl auth whoami``), and
TokenReview who a bearer token belongs to (kube-rbac-proxy and
controller-runtime's secured metrics ask it).

As upstream, the answer is the request's object with ``status`` filled in,
201 Created; a spec that asks nothing, or two things, is a 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from pynetes.api import errors
from pynetes.api.errors import FieldError
from pynetes.api.gofmt import go_quote, go_value_slice
from pynetes.api.resources import Resource
from pynetes.apiserver.auth.authentication import (
    AuthenticationError,
    TokenAuthenticator,
    UserInfo,
    with_authenticated_group,
)
from pynetes.apiserver.auth.authorization import Attributes, Authorizer, request_user
from pynetes.apiserver.responses import json_response, read_body

Object = dict[str, Any]

_AUTHORIZATION = "authorization.k8s.io"
_AUTHENTICATION = "authentication.k8s.io"
_CREATE = ("create",)


def _review(group: str, kind: str, plural: str, namespaced: bool = False) -> Resource:
    return Resource(group, "v1", kind, plural, namespaced, verbs=_CREATE, stored=False)


SELF_SUBJECT_ACCESS_REVIEWS = _review(
    _AUTHORIZATION, "SelfSubjectAccessReview", "selfsubjectaccessreviews"
)
SUBJECT_ACCESS_REVIEWS = _review(_AUTHORIZATION, "SubjectAccessReview", "subjectaccessreviews")
LOCAL_SUBJECT_ACCESS_REVIEWS = _review(
    _AUTHORIZATION, "LocalSubjectAccessReview", "localsubjectaccessreviews", namespaced=True
)
SELF_SUBJECT_RULES_REVIEWS = _review(
    _AUTHORIZATION, "SelfSubjectRulesReview", "selfsubjectrulesreviews"
)
SELF_SUBJECT_REVIEWS = _review(_AUTHENTICATION, "SelfSubjectReview", "selfsubjectreviews")
TOKEN_REVIEWS = _review(_AUTHENTICATION, "TokenReview", "tokenreviews")
REVIEWS = (
    SELF_SUBJECT_ACCESS_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SELF_SUBJECT_REVIEWS,
    TOKEN_REVIEWS,
)


class ReviewApi:
    """POST of the review kinds, answered by ``authorizer``, the request's user, and
    ``tokens`` (the server's bearer token authenticators, which accept tokens for
    ``audiences``)."""

    def __init__(
        self, authorizer: Authorizer, tokens: TokenAuthenticator, audiences: Sequence[str]
    ) -> None:
        self._authorizer = authorizer
        self._tokens = tokens
        self._audiences = list(audiences)
        self._answers: dict[Resource, Callable[[Object, UserInfo, str], Awaitable[Object]]] = {
            SELF_SUBJECT_ACCESS_REVIEWS: self._decide,
            SUBJECT_ACCESS_REVIEWS: self._access,
            LOCAL_SUBJECT_ACCESS_REVIEWS: self._access,
            SELF_SUBJECT_RULES_REVIEWS: self._rules,
            SELF_SUBJECT_REVIEWS: self._who_am_i,
            TOKEN_REVIEWS: self._token,
        }

    async def serve(
        self, request: web.BaseRequest, resource: Resource, namespace: str, name: str
    ) -> web.StreamResponse:
        if request.method != "POST" or name:
            raise errors.method_not_allowed()
        body = await read_body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of a review must be an object")
        user = request_user(request)
        if user is None:
            raise errors.unauthorized()
        review: Object = {
            "kind": resource.kind,
            "apiVersion": resource.group_version,
            "metadata": {"creationTimestamp": None, **_dict(body.get("metadata"))},
            "spec": _dict(body.get("spec")),
        }
        if namespace:
            review["metadata"]["namespace"] = namespace
        review["status"] = await self._answers[resource](review, user, namespace)
        return json_response(review, status=201)

    async def _access(self, review: Object, user: UserInfo, namespace: str) -> Object:
        spec = review["spec"]
        asked = spec.get("resourceAttributes")
        if namespace and asked is not None and _dict(asked).get("namespace") != namespace:
            raise errors.bad_request(
                f"spec.resourceAttributes.namespace must match namespace: {namespace}"
            )
        if not spec.get("user") and not spec.get("groups"):
            detail = "at least one of user or group must be specified"
            raise _invalid(review, [errors.invalid("spec.user", "", detail)])
        subject = UserInfo(
            name=str(spec.get("user") or ""),
            uid=str(spec.get("uid") or ""),
            groups=tuple(str(group) for group in spec.get("groups") or ()),
            extra={key: tuple(values) for key, values in _dict(spec.get("extra")).items()},
        )
        return await self._decide(review, subject, namespace)

    async def _decide(self, review: Object, subject: UserInfo, namespace: str) -> Object:
        """The authorizer's answer for ``subject`` (the caller, for a SelfSubjectAccessReview)."""
        spec = review["spec"]
        resource = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        problems = []
        if resource is not None and non_resource is not None:
            problems.append(
                errors.invalid(
                    "spec.nonResourceAttributes",
                    non_resource,
                    "cannot be specified in combination with resourceAttributes",
                )
            )
        elif resource is None and non_resource is None:
            problems.append(
                errors.invalid(
                    "spec.resourceAttributes",
                    "null",  # upstream renders its nil pointer so: Invalid value: "null"
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )
            )
        if problems:
            raise _invalid(review, problems)
        attributes = _attributes(subject, resource, non_resource, namespace)
        decision = await self._authorizer.authorize(attributes)
        status: Object = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return status

    async def _rules(self, review: Object, user: UserInfo, namespace: str) -> Object:
        spec_namespace = str(review["spec"].get("namespace") or "")
        return await self._authorizer.rules_for(user, spec_namespace)

    async def _who_am_i(self, review: Object, user: UserInfo, namespace: str) -> Object:
        return {"userInfo": user.api_fields()}

    async def _token(self, review: Object, user: UserInfo, namespace: str) -> Object:
        spec = review["spec"]
        token = spec.get("token")
        if not token or not isinstance(token, str):
            raise errors.bad_request(
                "token is required for TokenReview in authentication.k8s.io/v1"
            )
        wanted = [str(audience) for audience in spec.get("audiences") or ()]
        if wanted and not set(wanted) & set(self._audiences):
            return {
                "authenticated": False,
                "error": f"token audiences {_quoted(self._audiences)} is invalid for"
                f" the target audiences {_quoted(wanted)}",
            }
        try:
            owner = await self._tokens.authenticate_token(token)
        except AuthenticationError as error:
            return {"authenticated": False, "error": str(error)}
        if owner is None:
            return {"authenticated": False}
        return {
            "authenticated": True,
            "user": with_authenticated_group(owner).api_fields(),
            "audiences": wanted or self._audiences,
        }


def _attributes(
    user: UserInfo, resource: Object | None, non_resource: Object | None, namespace: str
) -> Attributes:
    if resource is None:
        asked = _dict(non_resource)
        return Attributes(user, str(asked.get("verb", "")), str(asked.get("path", "")))
    asked = _dict(resource)
    return Attributes(
        user,
        str(asked.get("verb", "")),
        "",
        is_resource_request=True,
        namespace=str(asked.get("namespace") or namespace),
        api_group=str(asked.get("group", "")),
        api_version=str(asked.get("version", "")),
        resource=str(asked.get("resource", "")),
        subresource=str(asked.get("subresource", "")),
        name=str(asked.get("name", "")),
    )


def _quoted(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return go_value_slice(go_quote(value) for value in values)


def _invalid(review: Object, problems: list[FieldError]) -> errors.ApiError:
    group = review["apiVersion"].split("/")[0]
    return errors.invalid_object(group, review["kind"], "", problems)


def _dict(value: Any) -> Object:
    return value if isinstance(value, dict) else {}
