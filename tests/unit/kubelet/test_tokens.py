"""The kubelet's token manager: one TokenRequest per token, a new one when it is due."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynetes.kubelet.tokens import TokenManager

Object = dict[str, Any]
POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Answers TokenRequests as the API server would, counting them."""

    def __init__(self, clock: Clock) -> None:
        self.requests: list[tuple[str, Object]] = []
        self._clock = clock

    async def request(self, method: str, path: str, *, body: Object) -> Object:
        self.requests.append((path, body))
        expires = self._clock() + body["spec"]["expirationSeconds"]
        return {
            "status": {
                "token": f"token-{len(self.requests)}",
                "expirationTimestamp": datetime.fromtimestamp(expires, UTC).isoformat(),
            }
        }


async def test_tokens_are_reused_until_four_fifths_of_their_life() -> None:
    clock = Clock()
    client = FakeClient(clock)
    tokens = TokenManager(client, clock)  # type: ignore[arg-type]
    projection = {"path": "token", "expirationSeconds": 1000, "audience": "vault"}
    assert await tokens.token(POD, projection) == "token-1"
    path, body = client.requests[0]
    assert path == "/api/v1/namespaces/ns/serviceaccounts/default/token"
    assert body["spec"]["audiences"] == ["vault"]
    assert body["spec"]["boundObjectRef"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "p",
        "uid": "u",
    }
    clock.now += 800
    assert await tokens.token(POD, projection) == "token-1"
    clock.now += 1
    assert await tokens.token(POD, projection) == "token-2"
    assert await tokens.token(POD, {**projection, "audience": ""}) == "token-3"
    assert client.requests[-1][1]["spec"]["audiences"] == []
