"""Who sent a request: kube-apiserver's request authenticators.

An :class:`Authenticator` looks at a request and answers the user it proves
to be, ``None`` when the request carries no credentials it understands, or
raises :class:`AuthenticationError` when it carries credentials that are
wrong (an unknown bearer token). The server answers 401 to an error on every
path, as upstream does (a bad token is never treated as anonymous), and to
``None`` on every path but :data:`PUBLIC_PATHS` and
:data:`ANONYMOUS_READABLE_PATHS` (there, the request is :data:`ANONYMOUS`'s).

Credentials never appear in logs, ``repr`` or exception messages.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import ssl
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from aiohttp import web

log = logging.getLogger(__name__)

#: Every authenticated user is in this group; RBAC grants it discovery and reviews.
SYSTEM_AUTHENTICATED = "system:authenticated"
SYSTEM_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"

#: What upstream lets anyone GET: the non-resource URLs of the
#: ``system:public-info-viewer`` ClusterRole, bound to authenticated and
#: unauthenticated users alike.
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


@dataclass(frozen=True)
class UserInfo:
    """Upstream's user.Info: a name, a UID, groups, and extra attributes."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def api_fields(self) -> dict[str, Any]:
        """The user as the API writes one (a CSR's spec, a SelfSubjectReview's userInfo):
        ``username``, then ``uid``, ``groups`` and ``extra`` when set."""
        fields: dict[str, Any] = {"username": self.name}
        if self.uid:
            fields["uid"] = self.uid
        if self.groups:
            fields["groups"] = list(self.groups)
        if self.extra:
            fields["extra"] = {key: list(values) for key, values in self.extra.items()}
        return fields


#: Resources upstream's anonymous user may GET in a kubeadm cluster, which has no RBAC
#: here to say so: the Role ``kubeadm:bootstrap-signer-clusterinfo``, bound to
#: ``system:anonymous``, grants ``get`` of the ConfigMap ``kube-public/cluster-info`` and
#: nothing else. A joining node reads it before it has any credentials (it checks the
#: content against its bootstrap token's signature and its pinned CA hash).
ANONYMOUS_READABLE_PATHS = frozenset({"/api/v1/namespaces/kube-public/configmaps/cluster-info"})

#: Upstream's anonymous user (``--anonymous-auth``): who makes an unauthenticated request.
ANONYMOUS = UserInfo(ANONYMOUS_USER, groups=(SYSTEM_UNAUTHENTICATED,))


def is_public(method: str, path: str) -> bool:
    """Whether a request needs no credentials (the role grants the verb ``get`` only)."""
    return method == "GET" and path in PUBLIC_PATHS


def is_anonymous_readable(method: str, path: str) -> bool:
    """Whether an unauthenticated request may go on as :data:`ANONYMOUS`: a GET of
    one of :data:`ANONYMOUS_READABLE_PATHS` exactly (no list, watch or other verb)."""
    return method == "GET" and path in ANONYMOUS_READABLE_PATHS


class AuthenticationError(Exception):
    """Credentials were presented and are not valid. The message never holds them."""


class Authenticator(Protocol):
    async def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        """The user the request proves to be, None without credentials.

        Raises :class:`AuthenticationError` for credentials that are wrong.
        """
        ...


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str) -> UserInfo | None:
        """The user a bearer token belongs to, None for a token it does not know."""
        ...


class ClientCertificate:
    """Users of TLS client certificates: subject CN is the name, each O a group.

    The TLS layer has already verified the certificate against the client CA
    (see :func:`pynetes.pki.server_ssl_context`): the ssl module decodes a
    peer certificate only once it has verified it, so an unverified one can
    never be read here. A certificate without a CN proves no user, as
    upstream's ``CommonNameUserConversion``.
    """

    def __init__(self) -> None:
        #: The user of each TLS connection: its certificate cannot change, and
        #: decoding it on every request cost a tenth of a GET.
        self._users: weakref.WeakKeyDictionary[ssl.SSLObject, UserInfo | None] = (
            weakref.WeakKeyDictionary()
        )

    async def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if not isinstance(ssl_object, ssl.SSLObject):
            return None
        if ssl_object in self._users:
            return self._users[ssl_object]
        user = self._user_of(ssl_object)
        self._users[ssl_object] = user
        return user

    def _user_of(self, ssl_object: ssl.SSLObject) -> UserInfo | None:
        certificate = ssl_object.getpeercert()
        if not certificate:
            return None
        name = ""
        groups: list[str] = []
        for rdn in certificate.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    name = value  # the last CN wins, as Go's pkix.Name reads it
                elif key == "organizationName":
                    groups.append(value)
        return UserInfo(name, groups=tuple(groups)) if name else None


class StaticTokenFile:
    """Bearer tokens from a file, as kube-apiserver's ``--token-auth-file``.

    CSV, one token a line: ``token,user,uid[,"group1,group2"]``. Blank lines
    are skipped; a line with fewer than three columns makes the whole file
    invalid; a line with an empty token is skipped and a repeated token
    replaces the earlier one, each with a warning that names the record
    number, never the token.
    """

    def __init__(self, users: Mapping[str, UserInfo]) -> None:
        self._users = dict(users)

    @classmethod
    def load(cls, path: Path | str) -> StaticTokenFile:
        """Read the file (blocking: call it at startup, before serving)."""
        users: dict[str, UserInfo] = {}
        with open(path, newline="") as file:
            for number, record in enumerate(_records(file, path), start=1):
                token = record[0]
                if not token:
                    log.warning(
                        "empty token has been found in token file '%s', record number '%d'",
                        path,
                        number,
                    )
                    continue
                if token in users:
                    log.warning(
                        "duplicate token has been found in token file '%s', record number '%d'",
                        path,
                        number,
                    )
                groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
                users[token] = UserInfo(record[1], uid=record[2], groups=groups)
        return cls(users)

    async def authenticate_token(self, token: str) -> UserInfo | None:
        return self._users.get(token)


def _records(file: TextIO, path: Path | str) -> Iterator[list[str]]:
    """The token file's records, with errors that cite the line, never its text."""
    reader = csv.reader(file, strict=True)
    try:
        for record in reader:
            if not record:
                continue
            if len(record) < 3:
                raise ValueError(
                    f"token file '{path}' must have at least 3 columns"
                    f" (token, user name, user uid), found {len(record)}"
                )
            yield record
    except csv.Error as error:
        raise ValueError(f"token file '{path}', line {reader.line_num}: {error}") from None


class BearerToken:
    """Reads ``Authorization: Bearer <token>`` and asks a token authenticator.

    As upstream: the scheme is case-insensitive, a header that is not a
    bearer token (or has an empty one) proves nothing, and a bearer token
    nobody knows is an error ("invalid bearer token").
    """

    def __init__(self, tokens: TokenAuthenticator) -> None:
        self._tokens = tokens

    async def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        header = request.headers.get("Authorization", "").strip()
        parts = header.split(" ", 2)
        if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
            return None
        user = await self._tokens.authenticate_token(parts[1])
        if user is None:
            raise AuthenticationError("invalid bearer token")
        return user


class FirstToken:
    """Token authenticators in order: the first that knows a token answers for it.

    An authenticator raising :class:`AuthenticationError` ends the search
    (the token is of its kind, and wrong), as a None lets the next one try.
    """

    def __init__(self, *authenticators: TokenAuthenticator) -> None:
        self._authenticators = authenticators

    async def authenticate_token(self, token: str) -> UserInfo | None:
        for authenticator in self._authenticators:
            user = await authenticator.authenticate_token(token)
            if user is not None:
                return user
        return None


class UnionAuthenticator:
    """Tries authenticators in order; the first user proved wins.

    Errors count only when no authenticator proves a user (upstream's union).
    Every user it returns is in ``system:authenticated`` (upstream's
    AuthenticatedGroupAdder), except the anonymous user and users already
    in ``system:authenticated`` or ``system:unauthenticated``.
    """

    def __init__(self, *authenticators: Authenticator) -> None:
        self._authenticators = authenticators
        #: Each proved user with the group added, by the identity of the user the
        #: authenticator returned (they cache theirs): building it anew on every
        #: request cost 2% of a GET. Values keep their key objects alive.
        self._grouped: dict[int, tuple[UserInfo, UserInfo]] = {}

    async def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        errors: list[AuthenticationError] = []
        for authenticator in self._authenticators:
            try:
                user = await authenticator.authenticate(request)
            except AuthenticationError as error:
                errors.append(error)
                continue
            if user is not None:
                return self._grouped_user(user)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise AuthenticationError("[" + ", ".join(str(error) for error in errors) + "]")
        return None

    def _grouped_user(self, user: UserInfo) -> UserInfo:
        known = self._grouped.get(id(user))
        if known is not None and known[0] is user:
            return known[1]
        grouped = with_authenticated_group(user)
        if len(self._grouped) >= _GROUPED_USERS_LIMIT:
            self._grouped.clear()
        self._grouped[id(user)] = (user, grouped)
        return grouped


_GROUPED_USERS_LIMIT = 4096


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """``user`` in ``system:authenticated``, as every authenticated request's user is."""
    if user.name == ANONYMOUS_USER or {SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED} & set(
        user.groups
    ):
        return user
    return dataclasses.replace(user, groups=(*user.groups, SYSTEM_AUTHENTICATED))
