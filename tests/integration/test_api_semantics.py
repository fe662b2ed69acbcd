"""What clients rely on, over raw HTTPS: watch, lists, deletion, subresources, discovery."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from pynetes.apiserver import watch
from pynetes.apiserver.app import ServerOptions, start
from pynetes.pki.certificates import Pki, issue_client_certificate
from tests.integration.conftest import Cluster, free_port

Object = dict[str, Any]


@pytest.fixture
async def http(cluster: Cluster, tmp_path: Any) -> AsyncIterator[aiohttp.ClientSession]:
    pki = Pki(cluster.server.pki_dir)
    admin = issue_client_certificate(pki.load_ca(), "admin", ["system:masters"])
    (tmp_path / "admin.crt").write_bytes(admin.certificate_pem())
    (tmp_path / "admin.key").write_bytes(admin.key_pem())
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(tmp_path / "admin.crt", tmp_path / "admin.key")
    async with aiohttp.ClientSession(
        base_url=cluster.server.url, connector=aiohttp.TCPConnector(ssl=context)
    ) as session:
        yield session


async def request(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    async with http.request(method, path, data=data, headers=headers, **kwargs) as response:
        raw = await response.read()
        return response.status, json.loads(raw) if raw else None


def configmap(name: str, **labels: str) -> Object:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


def pod(name: str, node: str | None = None) -> Object:
    spec: Object = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def deployment(name: str) -> Object:
    labels = {"app": name}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": labels}, "template": template},
    }


CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def watch_events(
    http: aiohttp.ClientSession,
    path: str,
    count: int,
    *,
    within: float = 10.0,
    headers: dict[str, str] | None = None,
) -> list[Object]:
    """The first ``count`` events of a watch (the stream is then closed)."""
    events: list[Object] = []
    async with asyncio.timeout(within), http.get(path, headers=headers) as response:
        assert response.status == 200
        async for line in response.content:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


async def test_watch_without_a_version_starts_with_the_current_state(
    http: aiohttp.ClientSession,
) -> None:
    await request(http, "POST", CONFIGMAPS, configmap("a"))
    watching = asyncio.create_task(watch_events(http, f"{CONFIGMAPS}?watch=true", 2))
    await asyncio.sleep(0.2)
    await request(http, "POST", CONFIGMAPS, configmap("b"))
    events = await watching
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


async def test_watch_from_a_version_sends_only_later_changes_in_order(
    http: aiohttp.ClientSession,
) -> None:
    _, first = await request(http, "POST", CONFIGMAPS, configmap("a"))
    version = first["metadata"]["resourceVersion"]
    await request(
        http,
        "PATCH",
        f"{CONFIGMAPS}/a",
        {"data": {"k": "v"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    await request(http, "DELETE", f"{CONFIGMAPS}/a")
    events = await watch_events(http, f"{CONFIGMAPS}?watch=true&resourceVersion={version}", 2)
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(version)


async def test_objects_entering_and_leaving_a_selector_are_added_and_deleted(
    http: aiohttp.ClientSession,
) -> None:
    _, listed = await request(http, "GET", CONFIGMAPS)
    version = listed["metadata"]["resourceVersion"]
    path = f"{CONFIGMAPS}?watch=true&labelSelector=tier%3Dfront&resourceVersion={version}"
    watching = asyncio.create_task(watch_events(http, path, 2))
    await asyncio.sleep(0.2)
    await request(http, "POST", CONFIGMAPS, configmap("a", tier="back"))
    merge = {"Content-Type": "application/merge-patch+json"}
    await request(
        http, "PATCH", f"{CONFIGMAPS}/a", {"metadata": {"labels": {"tier": "front"}}}, headers=merge
    )
    await request(
        http, "PATCH", f"{CONFIGMAPS}/a", {"metadata": {"labels": {"tier": "back"}}}, headers=merge
    )
    events = await watching
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


async def test_every_watcher_gets_every_event_of_a_burst_once_and_in_order(
    http: aiohttp.ClientSession,
) -> None:
    _, listed = await request(http, "GET", CONFIGMAPS)
    since = f"watch=true&resourceVersion={listed['metadata']['resourceVersion']}"
    watches = {
        "namespace": (f"{CONFIGMAPS}?{since}", 40),
        "cluster": (f"/api/v1/configmaps?{since}", 40),
        "selector": (f"{CONFIGMAPS}?{since}&labelSelector=tier%3Dfront", 20),
        "table": (f"{CONFIGMAPS}?{since}&includeObject=None", 40),
    }
    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    watching = {
        name: asyncio.create_task(
            watch_events(http, path, count, headers=table if name == "table" else None)
        )
        for name, (path, count) in watches.items()
    }
    await asyncio.sleep(0.2)
    await asyncio.gather(
        *(
            request(http, "POST", CONFIGMAPS, configmap(f"b{i:02d}", tier=("front", "back")[i % 2]))
            for i in range(40)
        )
    )
    received = {name: await task for name, task in watching.items()}
    for name in ("namespace", "cluster", "selector"):
        names = [event["object"]["metadata"]["name"] for event in received[name]]
        assert len(set(names)) == len(names) == watches[name][1], name
        versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in received[name]]
        assert versions == sorted(versions), name
    assert all(event["type"] == "ADDED" for events in received.values() for event in events)
    front = {event["object"]["metadata"]["name"] for event in received["selector"]}
    assert front == {f"b{i:02d}" for i in range(0, 40, 2)}
    rows = [event["object"]["rows"][0]["cells"][0] for event in received["table"]]
    assert sorted(rows) == [f"b{i:02d}" for i in range(40)]


async def test_a_watcher_that_stops_reading_is_cut_off_and_the_others_are_not(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "WATCHER_QUEUE_LIMIT", 3)
    _, listed = await request(http, "GET", CONFIGMAPS)
    path = f"{CONFIGMAPS}?watch=true&resourceVersion={listed['metadata']['resourceVersion']}"
    writes = 60
    reading = asyncio.create_task(watch_events(http, path, writes, within=60))
    async with http.get(path) as stalled:  # read nothing until every write is done
        await asyncio.sleep(0.2)
        for index in range(writes):  # 60 x 400 KiB: far more than socket buffers hold
            big = {**configmap(f"big{index}"), "data": {"k": "x" * 400 * 1024}}
            status, _ = await request(http, "POST", CONFIGMAPS, big)
            assert status == 201
        assert len(await reading) == writes
        async with asyncio.timeout(30):
            body = await stalled.read()  # ends: the server closed the stream
    received = body.count(b'"type":"ADDED"')
    assert 0 < received < writes
    # What it did receive is whole and in order; it resumes from the last one, as clients do.
    lines = [json.loads(line) for line in body.splitlines()]
    last = lines[-1]["object"]["metadata"]["resourceVersion"]
    rest = await watch_events(
        http, f"{CONFIGMAPS}?watch=true&resourceVersion={last}", writes - received, within=60
    )
    assert [event["object"]["metadata"]["name"] for event in lines + rest] == [
        f"big{index}" for index in range(writes)
    ]


async def test_send_initial_events_ends_with_an_annotated_bookmark(
    http: aiohttp.ClientSession,
) -> None:
    await request(http, "POST", CONFIGMAPS, configmap("a"))
    path = (
        f"{CONFIGMAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan"
    )
    added, bookmark = await watch_events(http, path, 2)
    assert added["type"] == "ADDED"
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["kind"] == "ConfigMap"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(
        added["object"]["metadata"]["resourceVersion"]
    )


async def test_a_watch_ends_after_its_timeout(http: aiohttp.ClientSession) -> None:
    async with (
        asyncio.timeout(10),
        http.get(f"{CONFIGMAPS}?watch=true&timeoutSeconds=1") as response,
    ):
        body = await response.read()
    assert response.status == 200 and body == b""


async def test_a_list_at_any_version_is_whole_whatever_its_limit(
    http: aiohttp.ClientSession,
) -> None:
    """Upstream's watch cache serves resourceVersion=0 lists whole (what informers ask first)."""
    for index in range(5):
        await request(http, "POST", CONFIGMAPS, configmap(f"c{index}"))
    status, listed = await request(http, "GET", f"{CONFIGMAPS}?limit=2&resourceVersion=0")
    assert status == 200 and len(listed["items"]) == 5
    assert "continue" not in listed["metadata"]


async def test_list_pages_hold_one_revision_and_count_what_remains(
    http: aiohttp.ClientSession,
) -> None:
    for index in range(5):
        await request(http, "POST", CONFIGMAPS, configmap(f"c{index}"))
    status, first = await request(http, "GET", f"{CONFIGMAPS}?limit=2")
    assert status == 200 and first["metadata"]["remainingItemCount"] == 3
    await request(http, "DELETE", f"{CONFIGMAPS}/c4")
    names = [item["metadata"]["name"] for item in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        _, page = await request(http, "GET", f"{CONFIGMAPS}?limit=2&continue={token}")
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["c0", "c1", "c2", "c3", "c4"]


async def test_a_list_at_an_exact_old_version_shows_the_old_state(
    http: aiohttp.ClientSession,
) -> None:
    _, created = await request(http, "POST", CONFIGMAPS, configmap("a"))
    version = created["metadata"]["resourceVersion"]
    await request(http, "DELETE", f"{CONFIGMAPS}/a")
    _, now = await request(http, "GET", CONFIGMAPS)
    _, then = await request(
        http, "GET", f"{CONFIGMAPS}?resourceVersion={version}&resourceVersionMatch=Exact"
    )
    assert now["items"] == []
    assert [item["metadata"]["name"] for item in then["items"]] == ["a"]


async def test_a_bound_pod_is_deleted_gracefully_and_an_unbound_one_at_once(
    http: aiohttp.ClientSession,
) -> None:
    pods = "/api/v1/namespaces/default/pods"
    await request(http, "POST", pods, pod("bound", node="node-1"))
    await request(http, "POST", pods, pod("unbound"))
    status, deleting = await request(http, "DELETE", f"{pods}/bound")
    assert status == 200
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30
    assert "deletionTimestamp" in deleting["metadata"]
    status, _ = await request(http, "GET", f"{pods}/bound")
    assert status == 200
    await request(http, "DELETE", f"{pods}/unbound")
    status, _ = await request(http, "GET", f"{pods}/unbound")
    assert status == 404
    status, _ = await request(http, "DELETE", f"{pods}/bound?gracePeriodSeconds=0")
    assert status == 200
    status, _ = await request(http, "GET", f"{pods}/bound")
    assert status == 404


async def test_finalizers_hold_an_object_until_they_are_removed(
    http: aiohttp.ClientSession,
) -> None:
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/keep"]
    await request(http, "POST", CONFIGMAPS, held)
    status, deleting = await request(http, "DELETE", f"{CONFIGMAPS}/held")
    assert status == 200 and "deletionTimestamp" in deleting["metadata"]
    status, _ = await request(
        http,
        "PATCH",
        f"{CONFIGMAPS}/held",
        {"metadata": {"finalizers": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200
    status, _ = await request(http, "GET", f"{CONFIGMAPS}/held")
    assert status == 404


async def test_status_and_spec_are_written_through_their_own_endpoints(
    http: aiohttp.ClientSession,
) -> None:
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    body = {**deployment("web"), "status": {"replicas": 9}}
    _, created = await request(http, "POST", deployments, body)
    assert created["status"] == {} and created["metadata"]["generation"] == 1
    created["status"] = {"replicas": 3}
    created["spec"]["replicas"] = 4
    _, updated = await request(http, "PUT", f"{deployments}/web", created)
    assert updated["status"] == {} and updated["spec"]["replicas"] == 4
    assert updated["metadata"]["generation"] == 2
    updated["status"] = {"replicas": 3}
    updated["spec"]["replicas"] = 1
    _, status_written = await request(http, "PUT", f"{deployments}/web/status", updated)
    assert status_written["status"] == {"replicas": 3}
    assert status_written["spec"]["replicas"] == 4
    assert status_written["metadata"]["generation"] == 2
    labelled = {"metadata": {"labels": {"a": "b"}}}
    _, relabelled = await request(
        http,
        "PATCH",
        f"{deployments}/web",
        labelled,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert relabelled["metadata"]["generation"] == 2


async def test_a_pods_status_is_written_by_the_rules_of_a_status(
    http: aiohttp.ClientSession,
) -> None:
    """pods/status keeps the stored spec and checks what a status may say: a spec the
    stored pod's rules would refuse is not looked at, two IPv4 pod IPs are refused."""
    pods = "/api/v1/namespaces/default/pods"
    _, created = await request(http, "POST", pods, pod("addressed"))
    created["spec"]["containers"][0]["name"] = "Not A Valid Name"  # ignored, not refused
    created["status"] = {"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}]}
    status, running = await request(http, "PUT", f"{pods}/addressed/status", created)
    assert status == 200 and running["status"]["podIPs"] == [{"ip": "10.0.0.7"}]
    assert running["spec"]["containers"][0]["name"] == "c"
    two = {"status": {"podIPs": [{"ip": "10.0.0.7"}, {"ip": "10.0.0.8"}]}}
    status, refused = await request(
        http,
        "PATCH",
        f"{pods}/addressed/status",
        two,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 422
    assert [cause["field"] for cause in refused["details"]["causes"]] == ["status.podIPs"]
    assert "may specify no more than one IP for each IP family" in refused["message"]


async def test_a_deployments_status_is_written_by_the_rules_of_a_status(
    http: aiohttp.ClientSession,
) -> None:
    """deployments/status refuses counts a status may not have, with upstream's causes."""
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    await request(http, "POST", deployments, deployment("counted"))
    merge = {"Content-Type": "application/merge-patch+json"}
    path = f"{deployments}/counted/status"
    sound = {"status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 1}}
    status, written = await request(http, "PATCH", path, sound, headers=merge)
    assert status == 200 and written["status"]["availableReplicas"] == 1
    unsound = {"status": {"readyReplicas": 3, "collisionCount": -1}}
    status, refused = await request(http, "PATCH", path, unsound, headers=merge)
    assert status == 422
    assert [cause["field"] for cause in refused["details"]["causes"]] == [
        "status.collisionCount",
        "status.readyReplicas",
    ]
    assert "cannot be greater than status.replicas" in refused["message"]


async def test_a_node_keeps_the_status_it_is_created_with(http: aiohttp.ClientSession) -> None:
    """Upstream's node strategy lets a kubelet register its node with status in one create;
    later updates of the main resource still keep the stored status."""
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady"}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"capacity": {"cpu": "4"}, "conditions": [ready]},
    }
    status, created = await request(http, "POST", "/api/v1/nodes", node)
    assert status == 201
    assert created["status"]["capacity"] == {"cpu": "4"}
    assert created["status"]["conditions"][0].items() >= ready.items()
    created["status"] = {"capacity": {"cpu": "8"}}
    _, updated = await request(http, "PUT", "/api/v1/nodes/n1", created)
    assert updated["status"]["capacity"] == {"cpu": "4"}


async def test_binding_assigns_a_node_once(http: aiohttp.ClientSession) -> None:
    pods = "/api/v1/namespaces/default/pods"
    await request(http, "POST", pods, pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    status, _ = await request(http, "POST", f"{pods}/p/binding", binding)
    assert status == 201
    _, bound = await request(http, "GET", f"{pods}/p")
    assert bound["spec"]["nodeName"] == "node-1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][
        0
    ].items()
    status, again = await request(http, "POST", f"{pods}/p/binding", binding)
    assert status == 409 and 'is already assigned to node "node-1"' in again["message"]


async def test_dry_run_persists_nothing(http: aiohttp.ClientSession) -> None:
    status, answered = await request(http, "POST", f"{CONFIGMAPS}?dryRun=All", configmap("dry"))
    assert status == 201 and answered["metadata"]["name"] == "dry"
    status, _ = await request(http, "GET", f"{CONFIGMAPS}/dry")
    assert status == 404


async def test_aggregated_discovery_answers_with_the_exact_media_type(
    http: aiohttp.ClientSession,
) -> None:
    for version in ("v2", "v2beta1"):
        accept = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        async with http.get("/apis", headers={"Accept": accept + ",application/json"}) as response:
            assert response.headers["Content-Type"] == accept
            body = await response.json(content_type=None)
        assert body["kind"] == "APIGroupDiscoveryList"
        groups = {item["metadata"]["name"] for item in body["items"]}
        assert {"apps", "batch", "apiextensions.k8s.io"} <= groups
    async with http.get("/api/", headers={"Accept": "application/json"}) as response:
        assert (await response.json())["versions"] == ["v1"]


async def test_request_metrics_use_upstream_names(http: aiohttp.ClientSession) -> None:
    await request(http, "GET", CONFIGMAPS)
    async with http.get("/metrics") as response:
        text = await response.text()
    assert (
        'apiserver_request_total{code="200",component="apiserver",group="",resource="configmaps"'
        in text
    )
    assert "apiserver_request_duration_seconds_bucket" in text


async def test_without_credentials_only_health_and_version_answer(cluster: Cluster) -> None:
    context = ssl.create_default_context(cafile=str(Pki(cluster.server.pki_dir).ca_cert))
    async with aiohttp.ClientSession(
        base_url=cluster.server.url, connector=aiohttp.TCPConnector(ssl=context)
    ) as anonymous:
        for path in ("/healthz", "/livez", "/readyz", "/version"):
            async with anonymous.get(path) as response:
                assert response.status == 200, path
        async with anonymous.get(CONFIGMAPS) as response:
            assert response.status == 401
            assert (await response.json())["reason"] == "Unauthorized"


async def test_bearer_tokens_from_the_token_file_authenticate(tmp_path: Any) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret-token,alice,1001,"dev,ops"\n')
    server = await start(
        ServerOptions(data_dir=tmp_path / "data", secure_port=free_port(), token_auth_file=tokens)
    )
    context = ssl.create_default_context(cafile=str(Pki(server.pki_dir).ca_cert))
    try:
        async with aiohttp.ClientSession(
            base_url=server.url, connector=aiohttp.TCPConnector(ssl=context)
        ) as session:
            good = {"Authorization": "Bearer s3cret-token"}
            async with session.get(CONFIGMAPS, headers=good) as response:
                assert response.status == 200
            bad = {"Authorization": "Bearer wrong"}
            async with session.get(CONFIGMAPS, headers=bad) as response:
                assert response.status == 401
                assert "s3cret" not in await response.text()
    finally:
        await server.stop()


async def test_events_written_through_either_api_are_one_event(http: aiohttp.ClientSession) -> None:
    new_api = "/apis/events.k8s.io/v1/namespaces/default/events"
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/scheduler",
        "reportingInstance": "scheduler-1",
        "action": "Binding",
        "reason": "Scheduled",
        "note": "Successfully assigned default/web to node-1",
        "type": "Normal",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web"},
    }
    status, _ = await request(http, "POST", new_api, event)
    assert status == 201
    _, core = await request(http, "GET", "/api/v1/namespaces/default/events/web.1")
    assert core["apiVersion"] == "v1"
    assert core["message"] == event["note"]
    assert core["involvedObject"]["name"] == "web"
    assert core["reportingComponent"] == "example.com/scheduler"
    _, selected = await request(
        http, "GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb"
    )
    assert [item["metadata"]["name"] for item in selected["items"]] == ["web.1"]
    _, back = await request(http, "GET", f"{new_api}/web.1")
    assert back["note"] == event["note"] and back["regarding"]["name"] == "web"


async def test_a_null_list_item_is_an_empty_object_as_go_decodes_it(
    http: aiohttp.ClientSession,
) -> None:
    """Found by the fuzz test: ``"containers": [null]`` was a 500."""
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [None]}},
        },
    }
    status, answer = await request(
        http, "POST", "/apis/apps/v1/namespaces/default/deployments", body
    )
    assert status == 422
    fields = {cause["field"] for cause in answer["details"]["causes"]}
    assert {
        "spec.template.spec.containers[0].name",
        "spec.template.spec.containers[0].image",
    } <= fields


async def test_secret_string_data_is_merged_into_data_and_never_stored(http):
    secrets = "/api/v1/namespaces/default/secrets"
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"user": "YWRtaW4=", "token": "b2xk"},
        "stringData": {"token": "s3cret"},
    }
    status, created = await request(http, "POST", secrets, body)
    assert status == 201
    assert created["data"] == {"user": "YWRtaW4=", "token": "czNjcmV0"}
    assert "stringData" not in created
    status, replaced = await request(
        http, "PUT", f"{secrets}/creds", {**created, "stringData": {"user": "root"}}
    )
    assert status == 200 and replaced["data"]["user"] == "cm9vdA=="
    assert "stringData" not in (await request(http, "GET", f"{secrets}/creds"))[1]
