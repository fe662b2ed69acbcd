"""The official `kubernetes` Python client against the real API server.

The client is synchronous, so each call runs in a thread while the server
keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.integration.conftest import Cluster


def api_client(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(str(cluster.kubeconfig))


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


async def test_crud_on_several_kinds(cluster: Cluster) -> None:
    with api_client(cluster) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        await call(core.create_namespace, {"metadata": {"name": "team-a"}})
        created = await call(
            core.create_namespaced_config_map,
            "team-a",
            {"metadata": {"name": "settings"}, "data": {"a": "1"}},
        )
        assert created.metadata.uid and created.metadata.resource_version.isdigit()
        secret = await call(
            core.create_namespaced_secret,
            "team-a",
            client.V1Secret(metadata=client.V1ObjectMeta(name="token"), string_data={"t": "x"}),
        )
        assert secret.type == "Opaque"
        deployment = await call(
            apps.create_namespaced_deployment,
            "team-a",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                },
            },
        )
        assert deployment.spec.replicas == 1
        assert deployment.spec.strategy.rolling_update.max_surge == "25%"
        created.data["b"] = "2"
        replaced = await call(core.replace_namespaced_config_map, "settings", "team-a", created)
        assert replaced.data == {"a": "1", "b": "2"}
        patched = await call(
            apps.patch_namespaced_deployment_scale, "web", "team-a", {"spec": {"replicas": 3}}
        )
        assert patched.spec.replicas == 3
        read = await call(apps.read_namespaced_deployment, "web", "team-a")
        assert read.spec.replicas == 3 and read.metadata.generation == 2
        status = await call(core.delete_namespaced_config_map, "settings", "team-a")
        assert status["status"] == "Success"  # this client returns DELETE bodies as dicts
        with pytest.raises(client.ApiException) as missing:
            await call(core.read_namespaced_config_map, "settings", "team-a")
        assert missing.value.status == 404


async def test_list_with_label_and_field_selectors(cluster: Cluster) -> None:
    with api_client(cluster) as api:
        core = client.CoreV1Api(api)
        for name, tier in [("a", "front"), ("b", "back"), ("c", "front")]:
            await call(
                core.create_namespaced_config_map,
                "default",
                {"metadata": {"name": name, "labels": {"tier": tier}}},
            )
        fronts = await call(core.list_namespaced_config_map, "default", label_selector="tier=front")
        assert [item.metadata.name for item in fronts.items] == ["a", "c"]
        others = await call(
            core.list_namespaced_config_map, "default", label_selector="tier in (back),tier!=front"
        )
        assert [item.metadata.name for item in others.items] == ["b"]
        named = await call(
            core.list_config_map_for_all_namespaces, field_selector="metadata.name=c"
        )
        assert [item.metadata.name for item in named.items] == ["c"]
        with pytest.raises(client.ApiException) as refused:
            await call(core.list_namespaced_pod, "default", field_selector="spec.nothing=1")
        assert refused.value.status == 400
        page = await call(core.list_namespaced_config_map, "default", limit=2)
        assert len(page.items) == 2 and page.metadata._continue
        rest = await call(
            core.list_namespaced_config_map, "default", limit=2, _continue=page.metadata._continue
        )
        assert [item.metadata.name for item in [*page.items, *rest.items]] == ["a", "b", "c"]


async def test_watch_from_a_resource_version(cluster: Cluster) -> None:
    with api_client(cluster) as api:
        core = client.CoreV1Api(api)
        first = await call(
            core.create_namespaced_config_map,
            "default",
            {"metadata": {"name": "w"}, "data": {"n": "0"}},
        )
        for step in (1, 2):
            await call(core.patch_namespaced_config_map, "w", "default", {"data": {"n": str(step)}})
        await call(core.delete_namespaced_config_map, "w", "default")

        def collect() -> list[tuple[str, str | None]]:
            seen = []
            for event in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=first.metadata.resource_version,
                timeout_seconds=5,
            ):
                seen.append((event["type"], (event["object"].data or {}).get("n")))
                if event["type"] == "DELETED":
                    break
            return seen

        assert await asyncio.to_thread(collect) == [
            ("MODIFIED", "1"),
            ("MODIFIED", "2"),
            ("DELETED", "2"),
        ]


async def test_a_409_body_is_upstreams_byte_for_byte(cluster: Cluster) -> None:
    with api_client(cluster) as api:
        core = client.CoreV1Api(api)
        await call(core.create_namespaced_config_map, "default", {"metadata": {"name": "c1"}})
        with pytest.raises(client.ApiException) as conflict:
            await call(core.create_namespaced_config_map, "default", {"metadata": {"name": "c1"}})
    assert conflict.value.status == 409
    assert (
        conflict.value.body
        == (
            b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
            b'"message":"configmaps \\"c1\\" already exists","reason":"AlreadyExists",'
            b'"details":{"name":"c1","kind":"configmaps"},"code":409}'
        ).decode()
    )
