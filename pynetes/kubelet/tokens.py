"""The kubelet's service account tokens: TokenRequests for projected volumes, cached.

As upstream's token manager (pkg/kubelet/token): a ``serviceAccountToken``
projection is a TokenRequest for the pod's ServiceAccount, bound to the pod,
with the projection's audience and lifetime. Tokens are kept per
(account, audience, lifetime, pod) and requested anew once 80% of their
lifetime or 24 hours have passed, so the file a pod reads is rotated while
each pod sync does not ask the API server again. Expired tokens are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient, resource_path

Object = dict[str, Any]

SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
DEFAULT_EXPIRATION_SECONDS = 3600
#: Upstream refreshes a token older than 80% of its lifetime, or than a day.
REFRESH_FRACTION = 0.8
MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class _Cached:
    token: str
    issued: float
    expires: float


class TokenManager:
    """Service account tokens for pods, requested from the API server when due."""

    def __init__(self, client: ApiClient, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._tokens: dict[tuple[str, ...], _Cached] = {}

    async def token(self, pod: Object, projection: Object) -> str:
        """The token of a ``serviceAccountToken`` projection of ``pod``.

        Raises the client's errors (a missing account is NotFound).
        """
        metadata = pod["metadata"]
        namespace = metadata.get("namespace") or "default"
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        audience = projection.get("audience") or ""
        seconds = projection.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS
        key = (namespace, account, audience, str(seconds), metadata.get("uid", ""))
        cached = self._tokens.get(key)
        now = self._clock()
        if cached is not None and not _due(cached, now):
            return cached.token
        answer = await self._client.request(
            "POST",
            resource_path(SERVICE_ACCOUNTS, namespace, account, "token"),
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "audiences": [audience] if audience else [],
                    "expirationSeconds": seconds,
                    "boundObjectRef": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": metadata["name"],
                        "uid": metadata.get("uid", ""),
                    },
                },
            },
        )
        status = answer["status"]
        expires = datetime.fromisoformat(status["expirationTimestamp"]).timestamp()
        self._forget_expired(now)
        self._tokens[key] = _Cached(status["token"], now, expires)
        return status["token"]

    def _forget_expired(self, now: float) -> None:
        """Drops expired tokens: those of pods gone long ago go with them."""
        for key in [key for key, cached in self._tokens.items() if cached.expires <= now]:
            del self._tokens[key]


def _due(cached: _Cached, now: float) -> bool:
    lifetime = cached.expires - cached.issued
    age = now - cached.issued
    return now >= cached.expires or age > REFRESH_FRACTION * lifetime or age > MAX_AGE_SECONDS
