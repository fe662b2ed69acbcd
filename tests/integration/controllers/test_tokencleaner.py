"""The tokencleaner against the real API server, with an injected wall clock."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.cluster.bootstraptoken import BootstrapToken, generate_token, token_secret
from tests.integration.controllers.harness import (
    WallClock,
    eventually,
    processed,
    running_controllers,
)

SECRETS = built_in("", "v1", "secrets")
QUEUE = "token_cleaner"


async def create_token(api: ApiClient, clock: WallClock, **options: Any) -> BootstrapToken:
    token = generate_token()
    secret = token_secret(token, now=datetime.fromtimestamp(clock.now, UTC), **options)
    await api.create(SECRETS, secret, namespace="kube-system")
    return token


async def exists(api: ApiClient, token: BootstrapToken) -> bool:
    try:
        await api.get(SECRETS, token.secret_name, namespace="kube-system")
    except errors.NotFound:
        return False
    return True


async def gone(api: ApiClient, token: BootstrapToken) -> bool:
    return not await exists(api, token)


async def touch(api: ApiClient, token: BootstrapToken) -> None:
    patch = {"metadata": {"annotations": {"touched": str(id(object()))}}}
    await api.patch(SECRETS, token.secret_name, patch, namespace="kube-system")


async def test_expired_token_secrets_are_deleted_and_others_kept(api: ApiClient) -> None:
    clock = WallClock()
    async with running_controllers(api, "tokencleaner", wall_clock=clock) as manager:
        forever = await create_token(api, clock, ttl=None)
        hour: list[BootstrapToken] = []

        async def create_hour_token() -> None:
            hour.append(await create_token(api, clock, ttl=timedelta(hours=1)))

        await processed(manager, QUEUE, create_hour_token)
        [short] = hour
        clock.advance(3599)
        await processed(manager, QUEUE, lambda: touch(api, short))
        assert await exists(api, short), "not before it expires"

        clock.advance(1)
        await touch(api, short)
        await eventually(lambda: gone(api, short))

        clock.advance(365 * 86400)
        await processed(manager, QUEUE, lambda: touch(api, forever))
        assert await exists(api, forever), "a token without expiration stays"


async def test_an_unparseable_expiration_counts_as_expired(api: ApiClient) -> None:
    clock = WallClock()
    token = await create_token(api, clock)
    garbled = base64.b64encode(b"in a while").decode()
    await api.patch(
        SECRETS, token.secret_name, {"data": {"expiration": garbled}}, namespace="kube-system"
    )
    async with running_controllers(api, "tokencleaner", wall_clock=clock):
        await eventually(lambda: gone(api, token))


async def test_other_secrets_are_left_alone(api: ApiClient) -> None:
    clock = WallClock()
    opaque = {
        "metadata": {"name": "bootstrap-token-aaaaaa", "namespace": "kube-system"},
        "data": {"expiration": base64.b64encode(b"2000-01-01T00:00:00Z").decode()},
    }
    await api.create(SECRETS, opaque)
    async with running_controllers(api, "tokencleaner", wall_clock=clock) as manager:
        token = await create_token(api, clock, ttl=timedelta(seconds=1))
        clock.advance(1)
        await processed(manager, QUEUE, lambda: touch(api, token))
        await eventually(lambda: gone(api, token))
    await api.get(SECRETS, "bootstrap-token-aaaaaa", namespace="kube-system")
