"""API errors as Kubernetes reports them: ``Status`` objects and field errors.

An :class:`ApiError` carries everything a ``meta.k8s.io/v1`` Status needs.
Its :meth:`ApiError.status` dict keeps upstream's key order (kind,
apiVersion, metadata, status, message, reason, details, code): clients
compare error bodies byte for byte.

A :class:`FieldError` is upstream's ``field.Error``: a path, a type, the bad
value and a detail; its text is worded as upstream words it, because kubectl
rebuilds its "is invalid" messages from the causes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from pynetes.api.gofmt import go_quote, go_string_slice

_OMITTED = object()


class FieldErrorType(enum.Enum):
    """Upstream's field.ErrorType: (cause reason, text)."""

    NOT_FOUND = ("FieldValueNotFound", "Not found")
    REQUIRED = ("FieldValueRequired", "Required value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    INVALID = ("FieldValueInvalid", "Invalid value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    FORBIDDEN = ("FieldValueForbidden", "Forbidden")
    TOO_LONG = ("FieldValueTooLong", "Too long")
    TOO_MANY = ("FieldValueTooMany", "Too many")
    INTERNAL = ("InternalError", "Internal error")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")

    @property
    def reason(self) -> str:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]


_VALUE_FREE = {
    FieldErrorType.REQUIRED,
    FieldErrorType.FORBIDDEN,
    FieldErrorType.TOO_LONG,
    FieldErrorType.INTERNAL,
    FieldErrorType.TOO_MANY,
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``spec.containers[0].image: Required value``."""

    type: FieldErrorType
    field: str
    value: Any = _OMITTED
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (upstream's ErrorBody)."""
        text = self.type.text
        if self.type not in _VALUE_FREE and self.value is not _OMITTED:
            text += ": " + _render_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, str]:
        return {"reason": self.type.reason, "message": self.body(), "field": self.field}


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(FieldErrorType.REQUIRED, field, detail=detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(FieldErrorType.INVALID, field, value, detail)


def not_supported(field: str, value: Any, supported: Sequence[str]) -> FieldError:
    """upstream field.NotSupported: the supported values strconv.Quote'd, in the given order."""
    detail = "supported values: " + ", ".join(go_quote(option) for option in supported)
    return FieldError(FieldErrorType.NOT_SUPPORTED, field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(FieldErrorType.DUPLICATE, field, value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FieldErrorType.FORBIDDEN, field, detail=detail)


def too_long(field: str, limit: int) -> FieldError:
    return FieldError(FieldErrorType.TOO_LONG, field, detail=f"may not be more than {limit} bytes")


def not_found(field: str, value: Any) -> FieldError:
    return FieldError(FieldErrorType.NOT_FOUND, field, value)


def _render_value(value: Any) -> str:
    """A bad value as upstream's ErrorBody prints it: ``%q`` for strings, ``%v`` for scalars.

    Anything else Go prints with ``%#v``, which needs the Go type: a list of
    strings is a ``[]string`` (``[]string{"Some"}``, as for dryRun); other
    values' types are not known here and are shown as JSON.
    """
    if isinstance(value, str):
        return go_quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if _is_string_slice(value):
        return go_string_slice(value)
    return orjson.dumps(value).decode()


def _is_string_slice(value: Any) -> bool:
    """A non-empty list of strings: an empty one could be a slice of any type."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, str) for item in value)
    )


class ApiError(Exception):
    """A request that fails: rendered as a Status with ``code`` and ``reason``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: Sequence[dict[str, str]] = (),
        retry_after: int | None = None,
        empty_details: bool = False,
        list_continue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = list(causes)
        self.retry_after = retry_after
        #: upstream's generic route errors carry ``"details": {}``.
        self.empty_details = empty_details
        #: ``metadata.continue``: a token the client may go on listing with.
        self.list_continue = list_continue

    def status(self) -> dict[str, Any]:
        """The ``Status`` object, keys in upstream's order."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.list_continue} if self.list_continue else {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # omitempty, as upstream
            body["reason"] = self.reason
        details: dict[str, Any] = {}
        if self.name:  # omitempty, as upstream
            details["name"] = self.name
        if self.group:  # omitempty, as upstream: the core group is left out
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details or self.empty_details:
            body["details"] = details
        body["code"] = self.code
        return body


def qualified_kind(group: str, resource: str) -> str:
    """``pods`` for the core group, ``deployments.apps`` for others, as upstream prints."""
    return f"{resource}.{group}" if group else resource


def not_found_error(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{qualified_kind(group, resource)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified_kind(group, resource)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


def conflict(group: str, resource: str, name: str, detail: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_kind(group, resource)} "{name}": {detail}',
        name=name,
        group=group,
        kind=resource,
    )


def invalid_object(group: str, kind: str, name: str, errors: Sequence[FieldError]) -> ApiError:
    """422: ``Pod "x" is invalid: <errors>``, one cause per field error."""
    qualified = f"{kind}.{group}" if group else kind
    rendered = [str(error) for error in errors]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {summary}',
        name=name,
        group=group,
        kind=kind,
        causes=[error.cause() for error in errors],
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        empty_details=True,
    )


def unsupported_media_type(accepted: Sequence[str]) -> ApiError:
    """415, listing the media types the endpoint reads, as upstream words it."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def request_entity_too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def gone(message: str, *, list_continue: str | None = None) -> ApiError:
    """410 Expired; a list's may offer a continue token for the rest (``metadata.continue``)."""
    return ApiError(410, "Expired", message, list_continue=list_continue)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden_request(user: str, verb: str, group: str, resource: str, namespace: str) -> ApiError:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{qualified_kind(group, resource)} is forbidden: User "{user}" cannot {verb} resource'
        f' "{resource}" in API group "{group}"{where}',
        group=group,
        kind=resource,
    )


def internal_error(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def timeout_error(message: str, *, retry_after: int | None = None) -> ApiError:
    """upstream NewTimeoutError: the message is prefixed with ``Timeout: ``."""
    return ApiError(504, "Timeout", f"Timeout: {message}", retry_after=retry_after)


def too_large_resource_version(requested: int, current: int) -> ApiError:
    """upstream NewTooLargeResourceVersionError, with the cause client-go's reflector reads."""
    error = timeout_error(
        f"Too large resource version: {requested}, current: {current}", retry_after=1
    )
    error.causes = [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
    return error


def path_not_found() -> ApiError:
    """A path no route serves: upstream's generic 404, with empty details."""
    return ApiError(
        404, "NotFound", "the server could not find the requested resource", empty_details=True
    )


def invalid_options(kind: str, problems: Sequence[FieldError]) -> ApiError:
    """422 for bad request options: ``ListOptions.meta.k8s.io "" is invalid: ...``."""
    return invalid_object("meta.k8s.io", kind, "", problems)
