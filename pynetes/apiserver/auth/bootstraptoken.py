"""Bootstrap token authentication: kube-apiserver's ``--enable-bootstrap-token-auth``.

A bearer token ``<id>.<secret>`` proves the user ``system:bootstrap:<id>``
when the Secret ``kube-system/bootstrap-token-<id>`` (see
:mod:`pynetes.cluster.bootstraptoken`) is of type
``bootstrap.kubernetes.io/token``, is not being deleted, holds that id and
secret, has not expired, and grants ``usage-bootstrap-authentication``. The
groups are ``system:bootstrappers`` and the Secret's ``auth-extra-groups``
(sorted, unique); one invalid extra group invalidates the token.

As upstream's bootstrap TokenAuthenticator, every refusal answers None (the
token is unknown: the request gets 401), so another authenticator may still
know a token of this form. Secrets are read from the API server's watch
cache (no storage read per request); the secret is compared in constant
time; logs name the Secret, never the token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from pynetes.apiserver.auth.authentication import UserInfo
from pynetes.apiserver.auth.serviceaccount import ObjectReader
from pynetes.cluster.bootstraptoken import (
    ID_KEY,
    SECRET_KEY,
    SECRET_NAMESPACE,
    SECRET_TYPE,
    USAGE_AUTHENTICATION,
    USER_PREFIX,
    TokenFormatError,
    extra_groups,
    has_usage,
    is_expired,
    parse_token,
    secret_name,
    secret_value,
)

log = logging.getLogger(__name__)
Object = dict[str, Any]


class BootstrapTokens:
    """A token authenticator for bootstrap tokens; ``clock`` gives seconds since the epoch."""

    def __init__(self, read: ObjectReader, clock: Callable[[], float]) -> None:
        self._read = read
        self._clock = clock

    async def authenticate_token(self, token: str) -> UserInfo | None:
        try:
            parsed = parse_token(token)
        except TokenFormatError:
            return None  # not a bootstrap token: another authenticator's
        name = secret_name(parsed.id)
        secret = await self._read("secrets", SECRET_NAMESPACE, name)
        if secret is None:
            log.debug("no secret %s/%s to match a bootstrap token", SECRET_NAMESPACE, name)
            return None
        problem = self._problem(secret, parsed.id, parsed.secret)
        if problem is None:
            try:
                groups = extra_groups(secret)
            except ValueError as error:
                problem = f"has invalid auth-extra-groups: {error}"
            else:
                return UserInfo(USER_PREFIX + parsed.id, groups=groups)
        log.debug("bootstrap token secret %s/%s %s", SECRET_NAMESPACE, name, problem)
        return None

    def _problem(self, secret: Object, token_id: str, token_secret: str) -> str | None:
        """Why ``secret`` does not vouch for the token, None when it does (groups aside)."""
        if secret["metadata"].get("deletionTimestamp"):
            return "is deleted and awaiting removal"
        if secret.get("type") != SECRET_TYPE or not secret.get("data"):
            return f"has invalid type, expected {SECRET_TYPE}"
        stored = secret_value(secret, SECRET_KEY).encode()
        if not hmac.compare_digest(stored, token_secret.encode()):
            return f"does not hold the token's {SECRET_KEY}"
        if secret_value(secret, ID_KEY) != token_id:
            return f"does not hold the token's {ID_KEY}"
        if is_expired(secret, self._clock()):
            return "has expired"
        if not has_usage(secret, USAGE_AUTHENTICATION):
            return f"is not marked usage-bootstrap-{USAGE_AUTHENTICATION}=true"
        return None
