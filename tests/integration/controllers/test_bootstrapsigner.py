"""The bootstrapsigner against the real API server, with an injected wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client.rest import ApiClient
from pynetes.cluster.bootstraptoken import (
    BootstrapToken,
    cluster_info_configmap,
    generate_token,
    signature_is_valid,
    token_secret,
)
from tests.integration.controllers.harness import (
    WallClock,
    eventually,
    processed,
    running_controllers,
)

SECRETS = built_in("", "v1", "secrets")
CONFIG_MAPS = built_in("", "v1", "configmaps")
QUEUE = "bootstrap_signer"
CA = b"-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n"
Object = dict[str, Any]


async def create_token(api: ApiClient, clock: WallClock, **options: Any) -> BootstrapToken:
    token = generate_token()
    secret = token_secret(token, now=datetime.fromtimestamp(clock.now, UTC), **options)
    await api.create(SECRETS, secret, namespace="kube-system")
    return token


async def cluster_info(api: ApiClient) -> Object:
    return await api.get(CONFIG_MAPS, "cluster-info", namespace="kube-public")


async def signatures(api: ApiClient) -> dict[str, str]:
    data = (await cluster_info(api)).get("data") or {}
    return {key: value for key, value in data.items() if key.startswith("jws-kubeconfig-")}


async def signed_by(api: ApiClient, *tokens: BootstrapToken) -> dict[str, str] | None:
    """The signatures once they are exactly those of ``tokens``, each valid, else None."""
    found = await signatures(api)
    if set(found) != {f"jws-kubeconfig-{token.id}" for token in tokens}:
        return None
    content = (await cluster_info(api))["data"]["kubeconfig"]
    for token in tokens:
        assert signature_is_valid(found[f"jws-kubeconfig-{token.id}"], content, token)
    return found or {"none": ""}


async def touch(api: ApiClient) -> None:
    patch = {"metadata": {"annotations": {"touched": str(id(object()))}}}
    await api.patch(CONFIG_MAPS, "cluster-info", patch, namespace="kube-public")


async def test_cluster_info_is_signed_by_each_signing_token_while_it_lives(
    api: ApiClient,
) -> None:
    clock = WallClock()
    config_map = cluster_info_configmap("https://10.0.0.1:6443", CA)
    config_map["data"]["other"] = "kept"
    await api.create(CONFIG_MAPS, config_map)
    before = await create_token(api, clock)
    async with running_controllers(api, "bootstrapsigner", wall_clock=clock) as manager:
        await eventually(lambda: signed_by(api, before))
        await processed(manager, QUEUE, lambda: create_token(api, clock, usages=["authentication"]))
        assert await signed_by(api, before), "a token not for signing signs nothing"

        short = await create_token(api, clock, ttl=timedelta(hours=1))
        await eventually(lambda: signed_by(api, before, short))

        await api.delete(SECRETS, before.secret_name, namespace="kube-system")
        await eventually(lambda: signed_by(api, short))

        clock.advance(3600)
        await touch(api)
        await eventually(lambda: signed_by(api))
        assert (await cluster_info(api))["data"]["other"] == "kept"


async def test_a_changed_kubeconfig_is_signed_again(api: ApiClient) -> None:
    clock = WallClock()
    await api.create(CONFIG_MAPS, cluster_info_configmap("https://10.0.0.1:6443", CA))
    token = await create_token(api, clock)
    async with running_controllers(api, "bootstrapsigner", wall_clock=clock):
        first = await eventually(lambda: signed_by(api, token))
        moved = await cluster_info(api)
        moved["data"] = cluster_info_configmap("https://10.0.0.2:6443", CA)["data"]
        await api.replace(CONFIG_MAPS, moved)

        async def resigned() -> dict[str, str] | None:
            found = await signed_by(api, token)
            return found if found != first else None

        await eventually(resigned)
