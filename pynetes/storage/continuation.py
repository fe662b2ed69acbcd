"""Continue tokens in the API server's own format.

A token is base64 of ``{"v": "meta.k8s.io/v1", "rv": R, "start": S}``: the
revision the first page was read at and the next key to read, relative to the
listed prefix, as kube-apiserver encodes them. Keeping the format makes tokens
look familiar to anyone who has debugged a Kubernetes list. A negative
revision, as upstream's -1, means the newest one: such tokens are offered
when a listing's own revision has been compacted (:func:`resume_at_newest`).
"""

from __future__ import annotations

import base64
import binascii

import orjson

from pynetes.storage.errors import InvalidContinueTokenError

_VERSION = "meta.k8s.io/v1"
#: The revision of a token read at the newest revision, as upstream encodes it.
_NEWEST = -1


def encode(*, revision: int, next_key: str, prefix: str) -> str:
    """A token that resumes a listing of ``prefix`` at ``next_key`` (inclusive)."""
    body = {"v": _VERSION, "rv": revision, "start": next_key.removeprefix(prefix)}
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode("ascii")


def decode(token: str, *, prefix: str) -> tuple[int | None, str]:
    """The (revision, next key) a token carries; InvalidContinueTokenError if malformed.

    The revision is None for a token to be read at the newest revision.
    """
    try:
        body = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise InvalidContinueTokenError(f"continue key is not valid: {error}") from None
    if not isinstance(body, dict) or body.get("v") != _VERSION:
        raise InvalidContinueTokenError("continue key is not valid: unknown version")
    revision, start = body.get("rv"), body.get("start")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision == 0:
        raise InvalidContinueTokenError("continue key is not valid: incorrect encoded revision")
    if not isinstance(start, str) or not start:
        raise InvalidContinueTokenError("continue key is not valid: missing start key")
    return (revision if revision > 0 else None), prefix + start


def resume_at_newest(token: str, *, prefix: str) -> str:
    """A token for the rest of ``token``'s listing, read at the newest revision.

    What upstream offers once ``token``'s revision is compacted: the same
    start key, revision -1. The client gets the rest of the list as it is
    now, which may be inconsistent with the pages it already has.
    """
    _, start = decode(token, prefix=prefix)
    return encode(revision=_NEWEST, next_key=start, prefix=prefix)
