"""pynetes.client's REST client against the real API server (and, for 429/503 only,
a tiny HTTP server, since the API server does not produce those on demand)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from pynetes.api.resources import ResourceRegistry
from pynetes.client import errors
from pynetes.client.config import ClientConfig, load_kubeconfig
from pynetes.client.rest import TOKEN_FILE_REFRESH, ApiClient
from pynetes.client.retry import Backoff, RetryPolicy
from tests.conftest import FakeClock
from tests.integration.conftest import Cluster, free_port

REGISTRY = ResourceRegistry()
CONFIGMAPS = REGISTRY.lookup("", "v1", "configmaps")
PODS = REGISTRY.lookup("", "v1", "pods")
NAMESPACES = REGISTRY.lookup("", "v1", "namespaces")
DEPLOYMENTS = REGISTRY.lookup("apps", "v1", "deployments")
NO_JITTER = Backoff(initial=0.5, random=lambda: 0.0)


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def deployment(name: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_kubeconfig(cluster.kubeconfig), qps=0)
    async with ApiClient.from_config(config) as api:
        yield api


# -- CRUD ------------------------------------------------------------------------


async def test_configmaps_round_trip_through_every_verb(client: ApiClient) -> None:
    created = await client.create(CONFIGMAPS, configmap("settings", mode="a"))
    assert created["metadata"]["namespace"] == "default"  # the kubeconfig's namespace
    fetched = await client.get(CONFIGMAPS, "settings")
    assert fetched["data"] == {"mode": "a"}

    fetched["data"]["mode"] = "b"
    replaced = await client.replace(CONFIGMAPS, fetched)
    assert replaced["data"] == {"mode": "b"}

    merged = await client.patch(CONFIGMAPS, "settings", {"data": {"extra": "1"}})
    assert merged["data"] == {"mode": "b", "extra": "1"}
    json_patched = await client.patch(
        CONFIGMAPS, "settings", [{"op": "remove", "path": "/data/extra"}], patch_type="json"
    )
    assert json_patched["data"] == {"mode": "b"}
    strategic = await client.patch(
        CONFIGMAPS, "settings", {"data": {"mode": "c"}}, patch_type="strategic"
    )
    assert strategic["data"] == {"mode": "c"}

    status = await client.delete(CONFIGMAPS, "settings")
    assert status["status"] == "Success"
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "settings")


async def test_server_side_apply_owns_fields_and_force_takes_them(client: ApiClient) -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}}
    first = await client.patch(
        CONFIGMAPS,
        "applied",
        {**applied, "data": {"k": "mine"}},
        patch_type="apply",
        field_manager="alpha",
    )
    assert first["data"] == {"k": "mine"}
    with pytest.raises(errors.Conflict) as conflict:
        await client.patch(
            CONFIGMAPS,
            "applied",
            {**applied, "data": {"k": "theirs"}},
            patch_type="apply",
            field_manager="beta",
        )
    assert "alpha" in conflict.value.message
    forced = await client.patch(
        CONFIGMAPS,
        "applied",
        {**applied, "data": {"k": "theirs"}},
        patch_type="apply",
        field_manager="beta",
        force=True,
    )
    assert forced["data"] == {"k": "theirs"}
    managers = {entry["manager"] for entry in forced["metadata"]["managedFields"]}
    assert "beta" in managers


async def test_pods_status_is_its_own_subresource(client: ApiClient) -> None:
    created = await client.create(PODS, pod("web"), namespace="kube-system")
    assert created["metadata"]["namespace"] == "kube-system"
    current = await client.get(PODS, "web", namespace="kube-system")
    current["status"] = {"phase": "Running"}
    current["spec"]["activeDeadlineSeconds"] = 5  # ignored by a status update
    updated = await client.replace(PODS, current, subresource="status")
    assert updated["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in updated["spec"]
    patched = await client.patch(
        PODS,
        "web",
        {"status": {"message": "warming up"}},
        namespace="kube-system",
        subresource="status",
    )
    assert (patched["status"]["phase"], patched["status"]["message"]) == ("Running", "warming up")


async def test_deployments_live_in_their_group(client: ApiClient) -> None:
    created = await client.create(DEPLOYMENTS, deployment("web", replicas=2))
    assert created["apiVersion"] == "apps/v1" and created["spec"]["replicas"] == 2
    scaled = await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}})
    assert scaled["spec"]["replicas"] == 3
    listed = await client.list(DEPLOYMENTS, namespace="default")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["web"]
    await client.delete(DEPLOYMENTS, "web", propagation_policy="Background")
    with pytest.raises(errors.NotFound):
        await client.get(DEPLOYMENTS, "web")


async def test_namespaces_are_cluster_scoped(client: ApiClient) -> None:
    await client.create(NAMESPACES, {"metadata": {"name": "team-a"}}, namespace="ignored")
    assert (await client.get(NAMESPACES, "team-a"))["status"]["phase"] == "Active"
    await client.create(CONFIGMAPS, configmap("c"), namespace="team-a")
    everywhere = await client.list(CONFIGMAPS)  # no namespace: across all of them
    assert ("team-a", "c") in {
        (item["metadata"]["namespace"], item["metadata"]["name"]) for item in everywhere["items"]
    }
    deleted = await client.delete(NAMESPACES, "team-a")
    assert deleted["status"]["phase"] == "Terminating"


async def test_delete_preconditions_are_checked(client: ApiClient) -> None:
    created = await client.create(CONFIGMAPS, configmap("guarded"))
    with pytest.raises(errors.Conflict):
        await client.delete(CONFIGMAPS, "guarded", preconditions={"uid": "not-its-uid"})
    await client.delete(
        CONFIGMAPS,
        "guarded",
        preconditions={"uid": created["metadata"]["uid"]},
        grace_period_seconds=0,
    )


# -- lists -----------------------------------------------------------------------


async def test_label_and_field_selectors_filter(client: ApiClient) -> None:
    await client.create(CONFIGMAPS, configmap("a", {"tier": "web"}))
    await client.create(CONFIGMAPS, configmap("b", {"tier": "db"}))
    await client.create(CONFIGMAPS, configmap("c", {"tier": "web", "canary": "yes"}))

    async def names(**selection: str) -> list[str]:
        listed = await client.list(CONFIGMAPS, namespace="default", **selection)
        return [item["metadata"]["name"] for item in listed["items"]]

    assert await names(label_selector="tier=web") == ["a", "c"]
    assert await names(label_selector="tier=web,!canary") == ["a"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    assert await names(label_selector="tier in (web,db)", field_selector="metadata.name!=a") == [
        "b",
        "c",
    ]


async def test_list_all_follows_continue_tokens(client: ApiClient) -> None:
    names = [f"cm-{index:03d}" for index in range(250)]
    for name in names:
        await client.create(CONFIGMAPS, configmap(name, {"bulk": "yes"}))
    first = await client.list(CONFIGMAPS, namespace="default", limit=100)
    assert len(first["items"]) == 100 and first["metadata"]["remainingItemCount"] == 150
    everything = await client.list_all(
        CONFIGMAPS, namespace="default", label_selector="bulk=yes", page_size=100
    )
    assert [item["metadata"]["name"] for item in everything["items"]] == names
    assert "continue" not in everything["metadata"]
    assert everything["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert everything["kind"] == "ConfigMapList"


async def test_list_all_lists_again_whole_when_its_snapshot_expires(
    cluster: Cluster, client: ApiClient
) -> None:
    """The store is compacted between list_all's pages, from inside the rate limiter's wait
    (the one point where the pager hands control out between two requests)."""
    for name in ("a", "b", "c"):
        await client.create(CONFIGMAPS, configmap(name))
    store = cluster.server.store
    compactions: list[int] = []

    async def compact_once(_seconds: float) -> None:
        if not compactions:
            await client.create(CONFIGMAPS, configmap("d"))
            compactions.append(await store.current_revision())
            await store.compact(compactions[0])

    config = dataclasses.replace(load_kubeconfig(cluster.kubeconfig), qps=1.0, burst=1)
    async with ApiClient(config, clock=FakeClock(), sleep=compact_once) as pager:
        everything = await pager.list_all(CONFIGMAPS, namespace="default", page_size=1)
    assert compactions, "the second page never waited for a token"
    assert [item["metadata"]["name"] for item in everything["items"]] == ["a", "b", "c", "d"]
    assert everything["metadata"]["resourceVersion"] == str(compactions[0])


# -- errors ----------------------------------------------------------------------


async def test_failures_raise_typed_errors(cluster: Cluster, client: ApiClient) -> None:
    with pytest.raises(errors.NotFound) as missing:
        await client.get(CONFIGMAPS, "absent")
    assert missing.value.details == {"name": "absent", "kind": "configmaps"}

    created = await client.create(CONFIGMAPS, configmap("once"))
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("once"))

    await client.patch(CONFIGMAPS, "once", {"data": {"moved": "on"}})
    with pytest.raises(errors.Conflict) as stale:
        await client.replace(CONFIGMAPS, created)  # its resourceVersion is old now
    assert "the object has been modified" in stale.value.message

    with pytest.raises(errors.Invalid) as invalid:
        await client.create(PODS, {"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}})
    fields = {cause["field"] for cause in invalid.value.causes}
    assert {"metadata.name", "spec.containers"} <= fields

    revision = (await client.list(CONFIGMAPS))["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, configmap("later"))
    store = cluster.server.store
    await store.compact(await store.current_revision())
    with pytest.raises(errors.Gone):
        await client.list(CONFIGMAPS, resource_version=revision, resource_version_match="Exact")


async def test_a_client_without_credentials_is_unauthorized(cluster: Cluster) -> None:
    config = load_kubeconfig(cluster.kubeconfig)
    anonymous = dataclasses.replace(config, client_cert_pem=None, client_key_pem=None)
    async with ApiClient(anonymous) as client:
        with pytest.raises(errors.Unauthorized):
            await client.list(CONFIGMAPS)


# -- rate limits -----------------------------------------------------------------


async def test_requests_wait_for_the_rate_limiter(cluster: Cluster) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    config = dataclasses.replace(load_kubeconfig(cluster.kubeconfig), qps=2.0, burst=2)
    async with ApiClient(config, clock=clock, sleep=sleep) as client:
        for _ in range(5):
            await client.list(CONFIGMAPS)
    assert slept == [0.5, 0.5, 0.5]  # two from the burst, then one every 1/qps


# -- retries (a stand-in server: the API server does not answer 429/503 on demand) --


class Flaky:
    """An HTTP server answering each request with the next of ``replies``."""

    def __init__(self, replies: list[web.Response]) -> None:
        self.replies = replies
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path_qs, dict(request.headers)))
        return self.replies.pop(0)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Flaky, str]]:
    handler = Flaky([])
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield handler, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def too_many(retry_after: str) -> web.Response:
    body = (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"slow down","reason":"TooManyRequests","code":429}'
    )
    return web.Response(
        status=429,
        body=body,
        content_type="application/json",
        headers={"Retry-After": retry_after},
    )


def recorder() -> tuple[list[float], object]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return slept, sleep


async def test_safe_requests_are_retried_after_429_and_503(flaky: tuple[Flaky, str]) -> None:
    server, url = flaky
    server.replies += [
        too_many("3"),
        web.Response(status=503, text="overloaded"),
        web.json_response({"kind": "ConfigMapList", "items": []}),
    ]
    slept, sleep = recorder()
    policy = RetryPolicy(attempts=5, backoff=NO_JITTER)
    async with ApiClient(ClientConfig(url, qps=0), retry=policy, sleep=sleep) as client:
        listed = await client.list(CONFIGMAPS, namespace="default", limit=5)
    assert listed["items"] == []
    assert slept == [3.0, 1.0]  # Retry-After honoured, then the backoff's second step
    assert [seen[1] for seen in server.seen] == [
        "/api/v1/namespaces/default/configmaps?limit=5"
    ] * 3


async def test_writes_are_not_retried(flaky: tuple[Flaky, str]) -> None:
    server, url = flaky
    server.replies += [web.Response(status=503, text="overloaded")]
    slept, sleep = recorder()
    async with ApiClient(ClientConfig(url, qps=0), sleep=sleep) as client:
        with pytest.raises(errors.InternalError) as failed:
            await client.create(CONFIGMAPS, configmap("x"))
    assert failed.value.code == 503 and "overloaded" in failed.value.message
    assert slept == [] and len(server.seen) == 1


async def test_retries_are_bounded() -> None:
    slept, sleep = recorder()
    policy = RetryPolicy(attempts=3, backoff=NO_JITTER)
    nobody = ClientConfig(f"http://127.0.0.1:{free_port()}", qps=0)  # nothing listens there
    async with ApiClient(nobody, retry=policy, sleep=sleep) as client:
        with pytest.raises(errors.TransportError):
            await client.get(CONFIGMAPS, "x")
    assert slept == [0.5, 1.0]


async def test_the_user_agent_and_a_rotating_token_file_are_sent(
    flaky: tuple[Flaky, str], tmp_path: Path
) -> None:
    server, url = flaky
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    server.replies += [web.json_response({}) for _ in range(3)]
    clock = FakeClock()
    config = ClientConfig(url, token="first", token_file=token_file, qps=0)
    async with ApiClient(config, clock=clock) as client:
        await client.request("GET", "/version")
        token_file.write_text("second\n")
        await client.request("GET", "/version")  # too soon to read the file again
        clock.advance(TOKEN_FILE_REFRESH)
        await client.request("GET", "/version")
    sent = [headers.get("Authorization") for _, _, headers in server.seen]
    assert sent == ["Bearer first", "Bearer first", "Bearer second"]
    assert server.seen[0][2]["User-Agent"] == config.user_agent
