"""Typed errors from Status bodies, and from bodies that are not Statuses."""

from __future__ import annotations

import orjson
import pytest

from pynetes.client import errors


def status(code: int, reason: str, message: str = "m", **details) -> bytes:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }
    return orjson.dumps(body)


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (405, "MethodNotAllowed", errors.MethodNotAllowed),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),
        (410, "Expired", errors.Gone),
        (410, "Gone", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.InternalError),
        (500, "ServerTimeout", errors.ServerTimeout),
        (503, "ServiceUnavailable", errors.ServiceUnavailable),
        (504, "Timeout", errors.Timeout),
        # an unknown reason falls back to the code, as upstream's reasonAndCodeForError
        (404, "SomethingNew", errors.NotFound),
        (418, "SomethingNew", errors.ApiError),
        # a known reason keeps its meaning whatever the code
        (415, "UnsupportedMediaType", errors.ApiError),
    ],
)
def test_the_class_follows_the_reason_then_the_code(code, reason, expected) -> None:
    error = errors.from_response(code, status(code, reason), method="GET")
    assert type(error) is expected
    assert (error.code, error.reason, error.message) == (code, reason, "m")


def test_an_error_keeps_the_whole_status_and_its_details() -> None:
    body = status(404, "NotFound", 'pods "x" not found', name="x", kind="pods")
    error = errors.from_response(404, body, method="GET")
    assert error.status == orjson.loads(body)
    assert error.details == {"name": "x", "kind": "pods"}
    assert str(error) == '404 NotFound: pods "x" not found'


def test_invalid_lists_its_causes() -> None:
    cause = {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}
    error = errors.from_response(422, status(422, "Invalid", causes=[cause]), method="POST")
    assert isinstance(error, errors.Invalid)
    assert error.causes == [cause]


def test_retry_after_comes_from_the_header_or_the_details() -> None:
    body = status(429, "TooManyRequests", retryAfterSeconds=7)
    assert errors.from_response(429, body, method="GET").retry_after == 7
    assert errors.from_response(429, body, method="GET", retry_after=3).retry_after == 3
    assert errors.from_response(500, status(500, "InternalError"), method="GET").retry_after is None


def test_a_status_without_a_code_takes_the_responses() -> None:
    body = orjson.dumps({"kind": "Status", "status": "Failure", "reason": "NotFound"})
    assert errors.from_response(404, body, method="GET").code == 404


def test_plain_text_bodies_become_upstreams_generic_status() -> None:
    error = errors.from_response(
        503, b"upstream connect error\n", method="GET", content_type="text/plain; charset=utf-8"
    )
    assert isinstance(error, errors.InternalError)
    assert error.message == (
        'an error on the server ("upstream connect error") has prevented the request from'
        " succeeding"
    )
    assert error.details["causes"] == [
        {"reason": "UnexpectedServerResponse", "message": "upstream connect error"}
    ]


def test_other_bodies_are_not_quoted_and_code_picks_the_class() -> None:
    html = b"<html>" + b"x" * 10_000
    error = errors.from_response(404, html, method="GET", content_type="text/html")
    assert isinstance(error, errors.NotFound)
    assert error.message == "the server could not find the requested resource"
    assert error.details["causes"][0]["message"] == "unknown"
    assert isinstance(errors.from_response(409, b"", method="POST"), errors.AlreadyExists)
    assert isinstance(errors.from_response(409, b"", method="PUT"), errors.Conflict)
    forbidden = errors.from_response(403, b"no", method="GET", content_type="text/plain")
    assert isinstance(forbidden, errors.Forbidden) and forbidden.message == "no"


def test_long_text_bodies_are_cut() -> None:
    error = errors.from_response(502, b"y" * 5000, method="GET", content_type="text/plain")
    assert len(error.details["causes"][0]["message"]) == errors.MAX_UNSTRUCTURED_TEXT


def test_namespace_terminating_is_read_from_the_status_causes() -> None:
    terminating = errors.from_status(
        {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'pods "p" is forbidden: unable to create new content in namespace'
            " gone because it is being terminated",
            "details": {
                "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace"}]
            },
        }
    )
    assert errors.namespace_terminating(terminating)
    assert not errors.namespace_terminating(
        errors.from_status({"code": 403, "reason": "Forbidden"})
    )
    assert not errors.namespace_terminating(RuntimeError("no API error"))
