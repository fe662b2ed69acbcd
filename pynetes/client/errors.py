"""What a failed request raises: typed errors built from the server's ``Status``.

Callers branch on the class (``except NotFound``), as client-go's callers
use ``apierrors.IsNotFound``. The class follows the Status ``reason``; a
reason this module does not know falls back to the HTTP code, as upstream's
``reasonAndCodeForError`` does, so a 404 from an unknown source is still a
:class:`NotFound`. A response that is not a Status at all (a proxy's HTML,
a plain-text 503) becomes a Status the way client-go's
``NewGenericServerResponse`` makes one, with an ``UnexpectedServerResponse``
cause holding the start of the body.

A request that never got an HTTP answer (refused, reset or cut
connections, TLS failures) raises :class:`TransportError` instead: there
is no Status to read.
"""

from __future__ import annotations

from typing import Any

import orjson

from pynetes.api.gofmt import go_quote

Status = dict[str, Any]

#: client-go caps the body text it keeps from a non-Status error response.
MAX_UNSTRUCTURED_TEXT = 2048


class TransportError(Exception):
    """The request got no HTTP response: the connection failed, broke or timed out.

    The underlying exception is the ``__cause__``. Whether the server acted
    on the request is unknown, which is why only safe verbs are retried.
    """


class ApiError(Exception):
    """A request the server answered with a failure ``Status``.

    ``status`` is the whole Status object as received (or as synthesized for
    a non-Status body); the other attributes are read from it.
    """

    def __init__(self, status: Status, *, retry_after: int | None = None) -> None:
        self.status = status
        self.code: int = int(status.get("code") or 0)
        self.reason: str = status.get("reason") or ""
        self.message: str = status.get("message") or ""
        self.details: dict[str, Any] = status.get("details") or {}
        #: Seconds the server asked the client to wait (Retry-After, or the
        #: Status's ``details.retryAfterSeconds``), if it did.
        self.retry_after = retry_after if retry_after is not None else _details_retry(self.details)
        super().__init__(f"{self.code} {self.reason or 'Unknown'}: {self.message}")


def namespace_terminating(error: BaseException) -> bool:
    """The server refused a create because the namespace is being deleted (a cause of
    reason NamespaceTerminating): for a controller, no failure to report."""
    if not isinstance(error, ApiError):
        return False
    causes = error.details.get("causes") or ()
    return any(cause.get("reason") == "NamespaceTerminating" for cause in causes)


class BadRequest(ApiError):
    """400: the request itself is malformed (bad parameters, undecodable body)."""


class Unauthorized(ApiError):
    """401: the credentials are missing or were not accepted."""


class Forbidden(ApiError):
    """403: authenticated, but not allowed (or a namespace is terminating)."""


class NotFound(ApiError):
    """404: no such object, or no such resource path."""


class MethodNotAllowed(ApiError):
    """405: the resource does not support the verb."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create of a name that is taken."""


class Conflict(ApiError):
    """409 Conflict: a stale resourceVersion or a failed precondition; re-read and retry."""


class Gone(ApiError):
    """410 (Expired or Gone): the resourceVersion is older than the history kept.

    A watcher or pager receiving it must start over with a fresh list.
    """


class Invalid(ApiError):
    """422: the object failed validation; :attr:`causes` names each bad field."""

    @property
    def causes(self) -> list[dict[str, str]]:
        """``[{"reason": ..., "message": ..., "field": ...}]`` as the server listed them."""
        return list(self.details.get("causes") or [])


class TooManyRequests(ApiError):
    """429: the server sheds load; :attr:`ApiError.retry_after` says when to come back."""


class InternalError(ApiError):
    """500 InternalError: the server failed while handling the request."""


class ServerTimeout(ApiError):
    """500 ServerTimeout: the server could not finish in time and asks for a retry."""


class ServiceUnavailable(ApiError):
    """503: the server (or something before it) cannot serve right now."""


class Timeout(ApiError):
    """504: the request timed out; the server may still be carrying it out."""


_BY_REASON: dict[str, type[ApiError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServerTimeout": ServerTimeout,
    "ServiceUnavailable": ServiceUnavailable,
    "Timeout": Timeout,
}

#: Upstream's other reasons: known, so their code does not pick the class.
_OTHER_KNOWN_REASONS = frozenset({"NotAcceptable", "RequestEntityTooLarge", "UnsupportedMediaType"})

_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    500: InternalError,
    503: ServiceUnavailable,
    504: Timeout,
}

#: NewGenericServerResponse's (reason, message) for a code whose body is no Status.
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted,"
        " but may still be processing the request",
    ),
}


def from_status(status: Status, *, retry_after: int | None = None) -> ApiError:
    """The error a failure ``Status`` stands for: by reason, else by code."""
    reason = status.get("reason") or ""
    cls = _BY_REASON.get(reason)
    if cls is None and reason not in _OTHER_KNOWN_REASONS:
        cls = _BY_CODE.get(int(status.get("code") or 0))
    return (cls or ApiError)(status, retry_after=retry_after)


def from_response(
    code: int,
    body: bytes,
    *,
    method: str,
    content_type: str = "",
    retry_after: int | None = None,
) -> ApiError:
    """The error an HTTP failure response stands for.

    A JSON ``Status`` body is used as is (with the response's code if it has
    none); anything else gets upstream's generic Status for ``code``. The
    body text is kept only when it is ``text/plain``, and then cut to
    :data:`MAX_UNSTRUCTURED_TEXT` bytes.
    """
    status = _decode_status(body)
    if status is None:
        text = "unknown"
        if content_type.startswith("text/plain"):
            text = body[:MAX_UNSTRUCTURED_TEXT].decode("utf-8", "replace").strip()
        status = generic_status(code, method, text)
    elif not status.get("code"):
        status = {**status, "code": code}
    return from_status(status, retry_after=retry_after)


def generic_status(code: int, method: str, server_message: str) -> Status:
    """upstream's NewGenericServerResponse, for a response that carried no Status."""
    reason, message = _generic_reason(code, method, server_message)
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"causes": [{"reason": "UnexpectedServerResponse", "message": server_message}]},
        "code": code,
    }


def _generic_reason(code: int, method: str, server_message: str) -> tuple[str, str]:
    if code == 409 and method == "POST":
        return "AlreadyExists", _GENERIC[409][1]
    if code == 403:  # upstream keeps the server's words: they say who may not do what
        return "Forbidden", server_message
    if code in _GENERIC:
        return _GENERIC[code]
    if code >= 500:
        return (
            "InternalError",
            f"an error on the server ({go_quote(server_message)}) has prevented the request"
            " from succeeding",
        )
    return (
        "",
        f"the server responded with the status code {code} but did not return more information",
    )


def _decode_status(body: bytes) -> Status | None:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    return None


def _details_retry(details: dict[str, Any]) -> int | None:
    seconds = details.get("retryAfterSeconds")
    return seconds if isinstance(seconds, int) and seconds > 0 else None
