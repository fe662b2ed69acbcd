"""Service account tokens: issued claims, and what the authenticator accepts."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pynetes.apiserver.auth import AuthenticationError, FirstToken, StaticTokenFile, UserInfo
from pynetes.apiserver.auth.serviceaccount import (
    BoundObject,
    ServiceAccountTokens,
    TokenIssuer,
    claims,
)

Object = dict[str, Any]
ISSUER = "https://issuer.test"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
PUBLIC = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
ACCOUNT = {"metadata": {"name": "robot", "namespace": "ns", "uid": "sa-uid"}}
POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid"}}


def authenticator(objects: dict[tuple[str, str], Object]) -> ServiceAccountTokens:
    async def read(plural: str, namespace: str, name: str) -> Object | None:
        return objects.get((plural, name))

    return ServiceAccountTokens(PUBLIC, ISSUER, [ISSUER], read, time.time)


def token(bound: BoundObject | None = None, issuer: str = ISSUER) -> str:
    signed = claims(
        issuer=issuer,
        audiences=[ISSUER],
        account=ACCOUNT,
        now=datetime.now(UTC),
        expiration_seconds=600,
        bound=bound,
    )
    return TokenIssuer(PRIVATE, issuer).sign(signed)


async def test_a_bound_token_is_the_account_with_its_pod() -> None:
    tokens = authenticator({("serviceaccounts", "robot"): ACCOUNT, ("pods", "p"): POD})
    user = await tokens.authenticate_token(token(BoundObject("Pod", "p", "pod-uid")))
    assert user is not None
    assert user.name == "system:serviceaccount:ns:robot"
    assert user.uid == "sa-uid"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns")
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    assert user.extra["authentication.kubernetes.io/pod-uid"] == ("pod-uid",)


async def test_a_recreated_pod_does_not_revive_the_token() -> None:
    again = {"metadata": {**POD["metadata"], "uid": "other"}}
    tokens = authenticator({("serviceaccounts", "robot"): ACCOUNT, ("pods", "p"): again})
    with pytest.raises(AuthenticationError, match="another uid"):
        await tokens.authenticate_token(token(BoundObject("Pod", "p", "pod-uid")))


async def test_tokens_of_others_are_left_to_the_next_authenticator() -> None:
    tokens = authenticator({("serviceaccounts", "robot"): ACCOUNT})
    assert await tokens.authenticate_token("not-a-jwt") is None
    assert await tokens.authenticate_token(token(issuer="https://elsewhere")) is None
    chain = FirstToken(tokens, StaticTokenFile({"not-a-jwt": UserInfo("static")}))
    assert await chain.authenticate_token("not-a-jwt") == UserInfo("static")
