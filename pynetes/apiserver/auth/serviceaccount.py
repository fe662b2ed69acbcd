"""Service account tokens: upstream's JWTs, issued for TokenRequest and authenticated.

A token is an RS256 JWT signed with the service-account key (``sa.key``),
holding upstream's claims (pkg/serviceaccount/claims.go): ``iss``, ``sub``
(``system:serviceaccount:NS:NAME``), ``aud``, ``exp``, ``iat``, ``nbf``,
``jti`` and the private ``kubernetes.io`` claim naming the namespace, the
ServiceAccount and the object the token is bound to (a Pod or a Secret,
and the Pod's Node).

:class:`ServiceAccountTokens` authenticates them: signature (``sa.pub``),
issuer, an audience of the API server, expiry and not-before (with
upstream's minute of leeway), and that the ServiceAccount and the bound
object still exist with the UIDs the token names (so deleting a pod revokes
its tokens). Legacy secret-based tokens are not supported.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pynetes.apiserver.auth.authentication import AuthenticationError, UserInfo

Object = dict[str, Any]

#: Upstream's default issuer (and so default API audience) in kubeadm clusters.
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
#: Upstream validates with go-jose's default leeway.
LEEWAY_SECONDS = 60
_ALGORITHM = "RS256"
_EXTRA = "authentication.kubernetes.io/"

#: Reads the current object of (resource plural, namespace, name); None when absent.
ObjectReader = Callable[[str, str, str], Awaitable[Object | None]]


def user_name(namespace: str, name: str) -> str:
    """The user a ServiceAccount authenticates as (upstream's MakeUsername)."""
    return f"{USER_PREFIX}{namespace}:{name}"


def groups_of(namespace: str) -> tuple[str, ...]:
    """The groups of a ServiceAccount's user (upstream's MakeGroupNames)."""
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")


@dataclass(frozen=True)
class BoundObject:
    """What a token is bound to: a Pod or a Secret (``kind``), by name and UID."""

    kind: str
    name: str
    uid: str


def claims(
    *,
    issuer: str,
    audiences: Sequence[str],
    account: Object,
    now: datetime,
    expiration_seconds: int,
    bound: BoundObject | None = None,
    node: Object | None = None,
) -> Object:
    """The claims of a token for ``account`` (upstream's token.Claims)."""
    metadata = account["metadata"]
    namespace = metadata["namespace"]
    issued = int(now.timestamp())
    private: Object = {
        "namespace": namespace,
        "serviceaccount": {"name": metadata["name"], "uid": metadata.get("uid", "")},
    }
    if bound is not None:
        private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
    if node is not None:
        private["node"] = {
            "name": node["metadata"]["name"],
            "uid": node["metadata"].get("uid", ""),
        }
    return {
        "iss": issuer,
        "sub": user_name(namespace, metadata["name"]),
        "aud": list(audiences),
        "exp": issued + expiration_seconds,
        "iat": issued,
        "nbf": issued,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": private,
    }


class TokenIssuer:
    """Signs claims into tokens with the service-account private key."""

    def __init__(self, private_key_pem: bytes, issuer: str) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service-account signing key must be an RSA key")
        self._key = key
        self.issuer = issuer
        self._key_id = _key_id(key.public_key())

    def sign(self, token_claims: Object) -> str:
        """The compact JWT of ``token_claims``, with upstream's ``kid`` header."""
        return jwt.encode(token_claims, self._key, _ALGORITHM, headers={"kid": self._key_id})


class ServiceAccountTokens:
    """A token authenticator for service account JWTs (upstream's JWTTokenAuthenticator).

    ``authenticate_token`` answers None for a token that is not a JWT of
    this issuer (another authenticator may know it) and raises
    :class:`AuthenticationError` for one of this issuer that is not valid.
    """

    def __init__(
        self,
        public_key_pem: bytes,
        issuer: str,
        audiences: Sequence[str],
        read: ObjectReader,
        clock: Callable[[], float],
    ) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem)
        self._issuer = issuer
        self._audiences = list(audiences)
        self._read = read
        self._clock = clock

    async def authenticate_token(self, token: str) -> UserInfo | None:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return None
        if unverified.get("iss") != self._issuer:
            return None
        try:
            verified = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[_ALGORITHM],
                audience=self._audiences,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "nbf", "sub", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(f"invalid bearer token: {_reason(error)}") from None
        private = verified.get("kubernetes.io")
        if not isinstance(private, dict):
            raise AuthenticationError("invalid bearer token: no kubernetes.io claim")
        return await self._user(private, verified)

    async def _user(self, private: Object, verified: Object) -> UserInfo:
        """The ServiceAccount's user, once it and the bound objects are checked to exist."""
        namespace = private.get("namespace") or ""
        account_ref = private.get("serviceaccount") or {}
        name = account_ref.get("name") or ""
        if verified.get("sub") != user_name(namespace, name):
            raise AuthenticationError("invalid bearer token: sub does not match its claims")
        account = await self._live("serviceaccounts", namespace, account_ref)
        extra: dict[str, tuple[str, ...]] = {}
        pod = private.get("pod")
        if pod:
            await self._live("pods", namespace, pod)
            extra[_EXTRA + "pod-name"] = (pod["name"],)
            extra[_EXTRA + "pod-uid"] = (pod["uid"],)
        secret = private.get("secret")
        if secret:
            await self._live("secrets", namespace, secret)
        node = private.get("node")
        if node:
            extra[_EXTRA + "node-name"] = (node.get("name", ""),)
            extra[_EXTRA + "node-uid"] = (node.get("uid", ""),)
        if jti := verified.get("jti"):
            extra[_EXTRA + "credential-id"] = (f"JTI={jti}",)
        return UserInfo(
            user_name(namespace, name),
            uid=account["metadata"].get("uid", ""),
            groups=groups_of(namespace),
            extra=extra,
        )

    async def _live(self, plural: str, namespace: str, ref: Object) -> Object:
        """The object a claim names, which must exist with its UID and not be deleted yet."""
        name, uid = ref.get("name") or "", ref.get("uid") or ""
        found = await self._read(plural, namespace, name)
        what = f"{plural.removesuffix('s')} {namespace}/{name}"
        if found is None:
            raise AuthenticationError(f"invalid bearer token: {what} not found")
        metadata = found["metadata"]
        if uid and metadata.get("uid") != uid:
            raise AuthenticationError(f"invalid bearer token: {what} has another uid")
        deleted = metadata.get("deletionTimestamp")
        if deleted and _seconds(deleted) < self._clock():
            raise AuthenticationError(f"invalid bearer token: {what} is being deleted")
        return found


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _reason(error: jwt.InvalidTokenError) -> str:
    """Why a token was refused, never the token (PyJWT's messages hold no token data)."""
    return str(error) or type(error).__name__


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    """Upstream's ``kid``: the unpadded base64url SHA-256 of the DER public key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
