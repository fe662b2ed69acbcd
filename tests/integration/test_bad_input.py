"""Bad input over HTTPS: each refused with kube-apiserver's code, reason and Status, nothing stored.

The real server answers a raw aiohttp client (no Kubernetes client library
in between to rewrite requests or hide replies). Each refusal is checked
for its HTTP code, its ``Status`` body with upstream's key order (kind,
apiVersion, metadata, status, message, reason, details, code), its reason,
and a store left exactly as it was. Upstream's words are quoted where
clients show them to users.

Tests marked xfail show where pynetes still answers differently from
kube-apiserver 1.31; each reason says what upstream answers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDictProxy

from pynetes.apiserver import watchcache
from tests.integration.conftest import Cluster
from tests.integration.http import assert_status, session, store_snapshot, tls_context

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's --max-request-body-bytes default
NOT_FOUND = "the server could not find the requested resource"
NOT_ALLOWED = "the server does not allow this method on the requested resource"
CONFLICT = (
    'Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply'
    " your changes to the latest version and try again"
)
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can"
    " start a new list without the continue parameter, or use the continue token in this"
    " response to retrieve the remainder of the results. Continuing with the provided token"
    " results in an inconsistent list - objects that were created, modified, or deleted"
    " between the time the first chunk was returned and now may show up in the list."
)


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Api:
    """Raw requests as an admin; bodies that are not bytes are sent as JSON."""

    def __init__(self, client: aiohttp.ClientSession, cluster: Cluster) -> None:
        self.client = client
        self.cluster = cluster

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = JSON,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
        sent = dict(headers or {})
        if content_type is not None and data is not None:
            sent["Content-Type"] = content_type
        async with self.client.request(method, path, data=data, headers=sent) as response:
            return Reply(response.status, response.headers, await response.read())

    async def create(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        reply = await self.send("POST", path, obj)
        assert reply.status == 201, reply.body
        return reply.json()

    @contextlib.asynccontextmanager
    async def store_unchanged(self) -> AsyncIterator[None]:
        """Asserts that what runs inside leaves every key, value and the revision as they were."""
        before = await store_snapshot(self.cluster.server.store)
        yield
        assert await store_snapshot(self.cluster.server.store) == before

    async def refused(
        self, method: str, path: str, body: Any = None, **options: Any
    ) -> tuple[Reply, dict[str, Any]]:
        """A request that must fail without touching the store: the reply and its Status."""
        async with self.store_unchanged():
            reply = await self.send(method, path, body, **options)
        assert reply.status >= 400, reply.body
        assert reply.headers["Content-Type"].startswith(JSON)
        return reply, reply.json()


@pytest.fixture
async def api(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Api]:
    async with session(cluster.server, tmp_path) as client:
        yield Api(client, cluster)


def configmap(name: str = "x", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    containers = [{"name": "c", "image": "nginx"}]
    return {"metadata": {"name": name}, "spec": {"containers": containers, **spec}}


def xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


# -- 400: malformed bodies ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (JSON, b"{bad"),
        (JSON, b'{"metadata": {"name": "x"'),
        (JSON, b""),
        (JSON, b"\xff\xfe"),
        ("application/yaml", b"metadata: [name"),
        ("application/yaml", b"metadata:\n  name: x\n bad indent: y\n"),
        (None, b"{bad"),  # no Content-Type is JSON (the Python client sends none)
    ],
    ids=["json", "truncated-json", "empty", "not-utf8", "yaml", "yaml-indent", "no-type"],
)
async def test_malformed_body_is_400(api: Api, content_type: str | None, body: bytes) -> None:
    reply, _ = await api.refused("POST", CONFIGMAPS, body, content_type=content_type)
    assert_status(reply.body, 400, "BadRequest")


@pytest.mark.parametrize("body", [[1, 2], "configmap", 42, True], ids=repr)
async def test_body_that_is_json_but_not_an_object_is_400(api: Api, body: Any) -> None:
    """Upstream: ``couldn't get version/kind; json parse error: json: cannot unmarshal ...``."""
    reply, _ = await api.refused("POST", CONFIGMAPS, orjson.dumps(body))
    assert_status(reply.body, 400, "BadRequest")


LEGACY_SCHEME = "pkg/api/legacyscheme/scheme.go:30"


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        (
            "POST",
            CONFIGMAPS,
            {**configmap(), "apiVersion": "apps/v1"},
            # transformDecodeError names the body's version without its group
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is'
            f' registered for version "apps/v1" in scheme "{LEGACY_SCHEME}"',
        ),
        (
            "POST",
            CONFIGMAPS,
            {**configmap(), "kind": "Secret"},
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to'
            " (core.ConfigMap): unknown conversion",
        ),
        (
            "PUT",
            f"{CONFIGMAPS}/seed",
            {**configmap("seed"), "kind": "Secret"},
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to'
            " (core.ConfigMap): unknown conversion",
        ),
        (
            "POST",
            DEPLOYMENTS,
            {"apiVersion": "v1", "kind": "Deployment"},
            'Deployment in version "v1" cannot be handled as a Deployment: no kind "Deployment" is'
            f' registered for version "v1" in scheme "{LEGACY_SCHEME}"',
        ),
        (
            "POST",
            CONFIGMAPS,
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
            'Deployment in version "v1" cannot be handled as a ConfigMap: converting'
            " (v1.Deployment) to (core.ConfigMap): unknown conversion",
        ),
        (
            "POST",
            CONFIGMAPS,
            {**configmap(), "kind": "configmap"},
            'configmap in version "v1" cannot be handled as a ConfigMap: no kind "configmap" is'
            f' registered for version "v1" in scheme "{LEGACY_SCHEME}"',
        ),
        (
            "POST",
            DEPLOYMENTS,
            {"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "d"}},
            # still registered upstream: it decodes and converts, then the version is refused
            "the API version in the data (apps/v1beta2) does not match the expected API version"
            " (apps/v1)",
        ),
    ],
    ids=[
        "api-version",
        "kind",
        "kind-on-update",
        "core-version-for-apps",
        "kind-of-another-group",
        "kind-in-lower-case",
        "older-version-of-the-kind",
    ],
)
async def test_kind_or_api_version_not_matching_the_url_is_400(
    api: Api, method: str, path: str, body: dict[str, Any], message: str
) -> None:
    await api.create(CONFIGMAPS, configmap("seed"))
    reply, status = await api.refused(method, path, body)
    assert_status(reply.body, 400, "BadRequest")
    assert status["message"] == message


async def test_object_of_the_wrong_namespace_is_400(api: Api) -> None:
    body = {**configmap(), "metadata": {"name": "x", "namespace": "kube-system"}}
    reply, status = await api.refused("POST", CONFIGMAPS, body)
    assert_status(reply.body, 400, "BadRequest")
    assert status["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "labelSelector=a%20b%20c",
        "fieldSelector=spec.foo%3Dbar",
        "resourceVersion=abc",
        "watch=1&timeoutSeconds=abc",
    ],
)
async def test_malformed_list_options_are_400(api: Api, query: str) -> None:
    reply, _ = await api.refused("GET", f"{CONFIGMAPS}?{query}")
    assert_status(reply.body, 400, "BadRequest")


# -- 404: unknown paths, kinds, objects and namespaces -------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/foos",
        "/apis/apps/v1/namespaces/default/foos",
        "/apis/no.such.group/v1/foos",
        "/apis/apps/v9/deployments",
        "/api/v2/pods",
        "/api/v1/namespaces/default/nodes",  # a cluster-scoped kind under a namespace
        "/nothing/here",  # upstream: text/plain "404 page not found"; a Status is as good
    ],
)
async def test_unknown_path_or_kind_is_404(api: Api, path: str) -> None:
    reply, status = await api.refused("GET", path)
    assert_status(reply.body, 404, "NotFound")
    assert status["message"] == NOT_FOUND


@pytest.mark.parametrize(
    ("path", "message", "details"),
    [
        (
            f"{CONFIGMAPS}/missing",
            'configmaps "missing" not found',
            {"name": "missing", "kind": "configmaps"},
        ),
        (
            f"{DEPLOYMENTS}/missing",
            'deployments.apps "missing" not found',
            {"name": "missing", "group": "apps", "kind": "deployments"},
        ),
    ],
)
async def test_missing_object_is_404_naming_it(
    api: Api, path: str, message: str, details: dict[str, str]
) -> None:
    reply, status = await api.refused("GET", path)
    assert_status(reply.body, 404, "NotFound")
    assert (status["message"], status["details"]) == (message, details)


@pytest.mark.parametrize(
    "path",
    [
        f"{CONFIGMAPS}/seed/status",  # configmaps have no status
        f"{CONFIGMAPS}/seed/foo",
    ],
)
async def test_unknown_subresource_of_an_existing_object_is_404_for_the_path(
    api: Api, path: str
) -> None:
    """No route serves the path: ``configmaps "seed" not found`` would deny that it exists."""
    await api.create(CONFIGMAPS, configmap("seed"))
    reply, status = await api.refused("GET", path)
    assert_status(reply.body, 404, "NotFound")
    assert status["message"] == NOT_FOUND


async def test_namespaced_object_in_a_missing_namespace_is_404(api: Api) -> None:
    """NamespaceLifecycle admission: the namespace's own NotFound."""
    reply, status = await api.refused("POST", "/api/v1/namespaces/x/configmaps", configmap("y"))
    assert_status(reply.body, 404, "NotFound")
    assert status["message"] == 'namespaces "x" not found'
    assert status["details"] == {"name": "x", "kind": "namespaces"}


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("GET", "/api/v1/namespaces/default/foos", 404), ("PUT", "/api", 405)],
)
async def test_generic_statuses_carry_empty_details_as_upstream(
    api: Api, method: str, path: str, code: int
) -> None:
    """go-restful's errors (NewGenericServerResponse) have ``"details":{}``, unlike the others."""
    reply, status = await api.refused(method, path, b"{}")
    assert reply.status == code
    assert status.get("details") == {}


# -- 405: a method the path does not have --------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/version"),
        ("PUT", "/api"),
        ("DELETE", "/apis"),
        ("PATCH", "/apis/apps/v1"),
        ("OPTIONS", CONFIGMAPS),
        ("POST", "/api/v1/nodes/x/status"),
        ("PUT", CONFIGMAPS),
        ("PATCH", CONFIGMAPS),
        ("POST", f"{CONFIGMAPS}/seed"),
        ("POST", f"{PODS}/web/log"),  # no such pod: the route answers first
        ("PATCH", "/api/v1/watch/namespaces/default/configmaps"),
        ("DELETE", "/api/v1/watch/namespaces/default/configmaps"),
    ],
)
async def test_wrong_method_is_405(api: Api, method: str, path: str) -> None:
    await api.create(CONFIGMAPS, configmap("seed"))
    reply, status = await api.refused(
        method, f"{path}?timeoutSeconds=1", b"{}", content_type=MERGE_PATCH
    )
    assert_status(reply.body, 405, "MethodNotAllowed")
    assert status["message"] == NOT_ALLOWED


# -- 415: a body type the endpoint does not read -------------------------------


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("POST", "text/plain"),
        ("POST", "application/xml"),
        ("PUT", "application/x-www-form-urlencoded"),
        ("PATCH", JSON),
        ("PATCH", "application/yaml"),
    ],
)
async def test_unsupported_media_type_is_415(api: Api, method: str, content_type: str) -> None:
    await api.create(CONFIGMAPS, configmap("seed"))
    path = CONFIGMAPS if method == "POST" else f"{CONFIGMAPS}/seed"
    reply, status = await api.refused(method, path, configmap("seed"), content_type=content_type)
    assert_status(reply.body, 415, "UnsupportedMediaType")
    assert status["message"].startswith("the body of the request was in an unknown format")


async def test_json_sent_as_protobuf_is_400(api: Api) -> None:
    reply, status = await api.refused(
        "POST", CONFIGMAPS, configmap("seed"), content_type="application/vnd.kubernetes.protobuf"
    )
    assert_status(reply.body, 400, "BadRequest")
    assert status["message"].endswith(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )


async def test_a_body_sent_after_100_continue_is_read(api: Api) -> None:
    """curl sends ``Expect: 100-continue`` before a large upload and waits for the go-ahead."""
    body = orjson.dumps(configmap("uploaded", a="x" * 4096))
    async with asyncio.timeout(10):
        async with api.client.post(
            CONFIGMAPS, data=body, headers={"Content-Type": JSON}, expect100=True
        ) as response:
            assert response.status == 201, await response.text()


# -- 413: a body over 3 MiB ----------------------------------------------------


async def test_body_over_3_mib_is_413(api: Api) -> None:
    body = orjson.dumps(configmap("big", a="x" * MAX_BODY_BYTES))
    reply, status = await api.refused("POST", CONFIGMAPS, body)
    assert_status(reply.body, 413, "RequestEntityTooLarge")
    assert status["message"] == f"Request entity too large: limit is {MAX_BODY_BYTES}"


async def test_large_body_under_the_limit_is_read_whole(api: Api) -> None:
    """900 KiB fits a ConfigMap (1 MiB of data) and etcd's 1.5 MiB."""
    created = await api.create(CONFIGMAPS, configmap("large", a="x" * 900 * 1024))
    assert len(created["data"]["a"]) == 900 * 1024


# -- 422: invalid objects, one cause per bad field -----------------------------


def causes(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(cause["field"], cause["reason"]) for cause in status["details"]["causes"]]


async def test_invalid_object_is_422_naming_every_bad_field(api: Api) -> None:
    body = {
        "metadata": {"name": "Bad_Name", "labels": {"a b": "c"}},
        "data": {"bad key!": "x"},
    }
    reply, status = await api.refused("POST", CONFIGMAPS, body)
    assert_status(reply.body, 422, "Invalid")
    assert status["message"].startswith('ConfigMap "Bad_Name" is invalid: [metadata.name: ')
    assert list(status["details"]) == ["name", "kind", "causes"]
    assert (status["details"]["name"], status["details"]["kind"]) == ("Bad_Name", "ConfigMap")
    assert causes(status) == [
        ("metadata.name", "FieldValueInvalid"),
        ("metadata.labels", "FieldValueInvalid"),
        ("data[bad key!]", "FieldValueInvalid"),
    ]


async def test_invalid_pod_is_422_with_kubectls_message(api: Api) -> None:
    reply, status = await api.refused("POST", PODS, pod(restartPolicy="Sometimes"))
    assert_status(reply.body, 422, "Invalid")
    assert status["message"] == (
        'Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes":'
        ' supported values: "Always", "OnFailure", "Never"'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure",'
            ' "Never"',
            "field": "spec.restartPolicy",
        }
    ]


async def test_invalid_pod_reports_required_and_semantic_errors_together(api: Api) -> None:
    body = pod("Bad_Name", restartPolicy="Sometimes")
    body["spec"]["containers"] = [{"name": "", "image": ""}]
    reply, status = await api.refused("POST", PODS, body)
    assert_status(reply.body, 422, "Invalid")
    assert {field for field, _ in causes(status)} >= {
        "metadata.name",
        "spec.containers[0].name",
        "spec.containers[0].image",
        "spec.restartPolicy",
    }


async def test_missing_name_is_422(api: Api) -> None:
    reply, status = await api.refused("POST", CONFIGMAPS, {"data": {"a": "1"}})
    assert_status(reply.body, 422, "Invalid")
    assert causes(status) == [("metadata.name", "FieldValueRequired")]


@pytest.mark.parametrize(
    ("query", "field"),
    [("fieldValidation=Bogus", "fieldValidation"), ("dryRun=Some", "dryRun")],
)
async def test_invalid_create_options_are_422(api: Api, query: str, field: str) -> None:
    """ValidateCreateOptions: ``CreateOptions.meta.k8s.io "" is invalid: fieldValidation: ...``."""
    reply, status = await api.refused("POST", f"{CONFIGMAPS}?{query}", configmap())
    assert_status(reply.body, 422, "Invalid")
    assert status["message"].startswith(f'CreateOptions.meta.k8s.io "" is invalid: {field}: ')
    assert causes(status) == [(field, "FieldValueNotSupported")]


@pytest.mark.parametrize(
    "query",
    ["resourceVersionMatch=Bogus&resourceVersion=0", "resourceVersionMatch=Exact"],
)
async def test_invalid_list_options_are_422(api: Api, query: str) -> None:
    reply, status = await api.refused("GET", f"{CONFIGMAPS}?{query}")
    assert_status(reply.body, 422, "Invalid")
    assert status["message"].startswith('ListOptions.meta.k8s.io "" is invalid: ')
    assert {field for field, _ in causes(status)} == {"resourceVersionMatch"}


# -- 409: conflicts -------------------------------------------------------------


async def test_stale_resource_version_is_409_and_none_is_unconditional(api: Api) -> None:
    created = await api.create(CONFIGMAPS, configmap("x", a="1"))
    stale = created["metadata"]["resourceVersion"]
    unconditional = await api.send("PUT", f"{CONFIGMAPS}/x", configmap("x", a="2"))
    assert unconditional.status == 200, unconditional.body
    assert unconditional.json()["data"] == {"a": "2"}
    body = {**configmap("x", a="3"), "metadata": {"name": "x", "resourceVersion": stale}}
    reply, _ = await api.refused("PUT", f"{CONFIGMAPS}/x", body)
    # the Python client's own tests compare this body byte for byte with upstream's
    assert reply.body == orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": CONFLICT,
            "reason": "Conflict",
            "details": {"name": "x", "kind": "configmaps"},
            "code": 409,
        }
    )


async def test_existing_name_is_409_already_exists(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("x"))
    reply, status = await api.refused("POST", CONFIGMAPS, configmap("x"))
    assert_status(reply.body, 409, "AlreadyExists")
    assert status["message"] == 'configmaps "x" already exists'


# -- 410: history that is gone --------------------------------------------------


async def test_watch_from_a_forgotten_resource_version_is_an_expired_error_event(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream's cacher answers 200 and one ERROR event: a 410 Expired Status."""
    monkeypatch.setattr(watchcache, "HISTORY_CAPACITY", 2)
    first = await api.create(CONFIGMAPS, configmap("c0"))
    for name in ("c1", "c2", "c3"):
        await api.create(CONFIGMAPS, configmap(name))
    assert (await api.send("GET", CONFIGMAPS)).status == 200  # the cache has seen c3
    forgotten = first["metadata"]["resourceVersion"]
    reply = await api.send(
        "GET", f"{CONFIGMAPS}?watch=1&resourceVersion={forgotten}&timeoutSeconds=5"
    )
    assert reply.status == 200
    [line] = reply.body.splitlines()
    event = orjson.loads(line)
    assert list(event) == ["type", "object"] and event["type"] == "ERROR"
    status = assert_status(orjson.dumps(event["object"]), 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {forgotten} (")


async def test_continue_token_older_than_compaction_is_410(api: Api) -> None:
    for name in ("c0", "c1", "c2"):
        await api.create(CONFIGMAPS, configmap(name))
    page = (await api.send("GET", f"{CONFIGMAPS}?limit=1")).json()
    token = page["metadata"]["continue"]
    await api.create(CONFIGMAPS, configmap("c3"))
    store = api.cluster.server.store
    await store.compact(await store.current_revision())
    reply, status = await api.refused("GET", f"{CONFIGMAPS}?limit=1&continue={token}")
    fresh = status["metadata"].get("continue")
    assert_status(reply.body, 410, "Expired", metadata={"continue": fresh})
    assert status["message"] == CONTINUE_EXPIRED


def token_fields(token: str) -> dict[str, Any]:
    """What a continue token carries: upstream's base64 of {"v", "rv", "start"}."""
    return orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


async def test_expired_continue_offers_a_token_for_the_rest(api: Api) -> None:
    for name in ("c0", "c1", "c2"):
        await api.create(CONFIGMAPS, configmap(name))
    token = (await api.send("GET", f"{CONFIGMAPS}?limit=1")).json()["metadata"]["continue"]
    await api.create(CONFIGMAPS, configmap("c3"))
    store = api.cluster.server.store
    await store.compact(await store.current_revision())
    _, status = await api.refused("GET", f"{CONFIGMAPS}?limit=1&continue={token}")
    assert "continue" in status["metadata"], status
    fresh = status["metadata"]["continue"]
    # upstream's EncodeContinue(startKey, prefix, -1): the same start key, the newest revision
    assert token_fields(fresh) == {**token_fields(token), "rv": -1}
    rest = (await api.send("GET", f"{CONFIGMAPS}?limit=10&continue={fresh}")).json()
    assert [item["metadata"]["name"] for item in rest["items"]] == ["c1", "c2", "c3"]
    assert rest["metadata"]["resourceVersion"] == str(await store.current_revision())


async def test_exact_list_at_a_compacted_revision_is_410(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("c0"))
    revision = (await api.send("GET", CONFIGMAPS)).json()["metadata"]["resourceVersion"]
    await api.create(CONFIGMAPS, configmap("c1"))
    store = api.cluster.server.store
    await store.compact(await store.current_revision())
    query = f"resourceVersion={revision}&resourceVersionMatch=Exact"
    reply, status = await api.refused("GET", f"{CONFIGMAPS}?{query}")
    assert_status(reply.body, 410, "Expired")
    assert status["message"] == "The resourceVersion for the provided list is too old."


# -- 403: a namespace being deleted ----------------------------------------------


async def terminating_namespace(api: Api, name: str) -> None:
    """A namespace whose deletion a finalizer holds (no namespace controller finishes it)."""
    await api.create(
        "/api/v1/namespaces",
        {"metadata": {"name": name, "finalizers": ["example.com/hold"]}},
    )
    deleted = await api.send("DELETE", f"/api/v1/namespaces/{name}")
    assert deleted.status == 200, deleted.body
    assert deleted.json()["status"]["phase"] == "Terminating"


async def test_terminating_namespace_refuses_new_objects_with_403(api: Api) -> None:
    await terminating_namespace(api, "doomed")
    reply, status = await api.refused(
        "POST", "/api/v1/namespaces/doomed/configmaps", configmap("y")
    )
    assert_status(reply.body, 403, "Forbidden")
    refusal = "unable to create new content in namespace doomed because it is being terminated"
    assert refusal in status["message"]
    [cause] = status["details"]["causes"]
    assert (cause["reason"], cause["field"]) == ("NamespaceTerminating", "metadata.namespace")


async def test_terminating_namespace_403_is_worded_as_upstream(api: Api) -> None:
    await terminating_namespace(api, "doomed")
    _, status = await api.refused("POST", "/api/v1/namespaces/doomed/configmaps", configmap("y"))
    assert status["message"] == (
        'configmaps "y" is forbidden: unable to create new content in namespace doomed because it'
        " is being terminated"
    )
    assert status["details"] == {
        "name": "y",
        "kind": "configmaps",
        "causes": [
            {
                "reason": "NamespaceTerminating",
                "message": "namespace doomed is being terminated",
                "field": "metadata.namespace",
            }
        ],
    }


async def test_deleted_namespace_stays_terminating_while_spec_finalizers_remain(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    deleted = await api.send("DELETE", "/api/v1/namespaces/doomed")
    assert deleted.status == 200
    assert deleted.json()["kind"] == "Namespace"  # not a Success Status: it is still there
    assert deleted.json()["status"]["phase"] == "Terminating"


# -- 401: no credentials ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", CONFIGMAPS, {}),
        ("POST", CONFIGMAPS, {}),
        ("GET", "/api", {}),
        ("GET", "/metrics", {}),
        ("GET", CONFIGMAPS, {"Authorization": "Bearer not-a-token"}),
    ],
)
async def test_no_credentials_is_401(
    cluster: Cluster, tmp_path: Path, method: str, path: str, headers: dict[str, str]
) -> None:
    async with session(cluster.server, tmp_path, admin=False) as anonymous:
        api = Api(anonymous, cluster)
        body = configmap() if method == "POST" else None
        reply, _ = await api.refused(method, path, body, headers=headers)
        public = await api.send("GET", "/healthz")
    assert reply.body == orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
    )
    assert (public.status, public.body) == (200, b"ok")


# -- field validation and dry run -------------------------------------------------


async def test_unknown_field_under_strict_is_400(api: Api) -> None:
    body = pod()
    body["spec"]["foo"] = 1
    reply, status = await api.refused("POST", f"{PODS}?fieldValidation=Strict", body)
    assert_status(reply.body, 400, "BadRequest")
    assert status["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error:'
        ' unknown field "spec.foo"'
    )


@pytest.mark.parametrize("mode", ["Warn", None], ids=["Warn", "default"])
async def test_unknown_field_under_warn_is_created_with_a_warning(
    api: Api, mode: str | None
) -> None:
    body = pod()
    body["spec"]["foo"] = 1
    query = f"?fieldValidation={mode}" if mode else ""
    reply = await api.send("POST", f"{PODS}{query}", body)
    assert reply.status == 201, reply.body
    assert "foo" not in reply.json()["spec"]
    [warning] = reply.headers.getall("Warning")
    assert warning.startswith("299 - ") and "spec.foo" in warning


async def test_warning_header_is_quoted_as_upstream(api: Api) -> None:
    body = pod()
    body["spec"]["foo"] = 1
    reply = await api.send("POST", f"{PODS}?fieldValidation=Warn", body)
    assert reply.headers.getall("Warning") == ['299 - "unknown field \\"spec.foo\\""']


async def test_warning_with_a_control_character_is_left_out(api: Api) -> None:
    body = {**configmap("x"), "a\nb": 1}
    reply = await api.send("POST", CONFIGMAPS, body)
    assert reply.status == 201, reply.body
    assert "Warning" not in reply.headers


async def test_unknown_field_under_ignore_is_dropped_silently(api: Api) -> None:
    body = pod()
    body["spec"]["foo"] = 1
    reply = await api.send("POST", f"{PODS}?fieldValidation=Ignore", body)
    assert reply.status == 201, reply.body
    assert "Warning" not in reply.headers


async def test_dry_run_persists_nothing(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("x", a="1"))
    async with api.store_unchanged():
        created = await api.send("POST", f"{CONFIGMAPS}?dryRun=All", configmap("y", a="1"))
        replaced = await api.send("PUT", f"{CONFIGMAPS}/x?dryRun=All", configmap("x", a="2"))
        patched = await api.send(
            "PATCH", f"{CONFIGMAPS}/x?dryRun=All", {"data": {"a": "3"}}, content_type=MERGE_PATCH
        )
        deleted = await api.send("DELETE", f"{CONFIGMAPS}/x?dryRun=All")
    assert [created.status, replaced.status, patched.status, deleted.status] == [201, 200, 200, 200]
    assert (replaced.json()["data"], patched.json()["data"]) == ({"a": "2"}, {"a": "3"})
    assert (await api.send("GET", f"{CONFIGMAPS}/y")).status == 404
    assert (await api.send("GET", f"{CONFIGMAPS}/x")).json()["data"] == {"a": "1"}


# -- what the fuzz test found ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=-1", 200),
        (f"limit={2**63 - 1}", 200),
        (f"limit={2**63 - 1}&resourceVersion={{rv}}&resourceVersionMatch=Exact", 200),
        (f"limit={2**63}", 400),
    ],
    ids=["negative", "int64-max", "int64-max-exact", "over-int64"],
)
async def test_limit_out_of_range(api: Api, query: str, code: int) -> None:
    """Upstream lists everything for a limit <= 0 and refuses one that is not an int64."""
    await api.create(CONFIGMAPS, configmap("c0"))
    revision = (await api.send("GET", CONFIGMAPS)).json()["metadata"]["resourceVersion"]
    reply = await api.send("GET", f"{CONFIGMAPS}?{query.format(rv=revision)}")
    assert reply.status == code, reply.body
    if code == 200:
        assert [item["metadata"]["name"] for item in reply.json()["items"]] == ["c0"]


async def test_list_at_a_revision_reached_by_another_resource(api: Api) -> None:
    """No configmap changed since: upstream's cacher learns the revision from etcd at once."""
    namespace = await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    revision = namespace["metadata"]["resourceVersion"]
    reply = await api.send("GET", f"{CONFIGMAPS}?resourceVersion={revision}")
    assert reply.status == 200, reply.body


async def test_namespaces_cannot_be_deleted_together(api: Api) -> None:
    reply, _ = await api.refused("DELETE", "/api/v1/namespaces")
    assert_status(reply.body, 405, "MethodNotAllowed")


@pytest.mark.parametrize(
    "query",
    ["watch=1&timeoutSeconds=1", ""],
    ids=["watch", "list"],
)
async def test_head_sends_no_body(cluster: Cluster, tmp_path: Path, query: str) -> None:
    """A body after a HEAD reply is read by the client as the next reply on the connection."""
    async with session(cluster.server, tmp_path) as client:
        api = Api(client, cluster)
        await api.create(CONFIGMAPS, configmap("c0"))
        head = await api.send("HEAD", f"{CONFIGMAPS}?{query}")
        after = await api.send("GET", "/healthz")  # on the same kept-alive connection
    assert head.body == b""
    assert (after.status, after.body) == (200, b"ok")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{DEPLOYMENTS}/web/scale", {"metadata": ["x"], "spec": {"replicas": 2}}),
        ("PUT", f"{DEPLOYMENTS}/web/scale", {"spec": "x"}),
        ("PUT", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": "x"}}),
        ("POST", f"{PODS}/web/binding", {"target": "node-1"}),
        ("DELETE", f"{CONFIGMAPS}/x", {"preconditions": "x"}),
        (
            "DELETE",
            f"{CONFIGMAPS}/x",
            {"dryRun": "All"},
        ),  # a string, not a list: refused, not deleted
        ("DELETE", f"{CONFIGMAPS}/x", {"orphanDependents": "x"}),
        ("POST", f"{PODS}/web/eviction", {"deleteOptions": {"preconditions": "x"}}),
        ("POST", f"{PODS}/web/eviction", {"deleteOptions": "x"}),
    ],
    ids=[
        "scale-metadata",
        "scale-spec",
        "scale-replicas",
        "binding-target",
        "delete-preconditions",
        "delete-dry-run",
        "delete-orphan",
        "eviction-preconditions",
        "eviction-options",
    ],
)
async def test_body_of_the_wrong_shape_is_400(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    """Upstream's decoder: ``<Kind> in version "<v>" cannot be handled as a <Kind>: json: ...``."""
    await api.create(CONFIGMAPS, configmap("x"))
    await api.create(PODS, pod("web"))
    await api.create(
        DEPLOYMENTS,
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
    reply, _ = await api.refused(method, path, body)
    assert_status(reply.body, 400, "BadRequest")


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", CONFIGMAPS, "application/yaml"),
        ("PATCH", f"{CONFIGMAPS}/x", "application/apply-patch+yaml"),
    ],
)
async def test_deeply_nested_yaml_is_400(
    api: Api, method: str, path: str, content_type: str
) -> None:
    await api.create(CONFIGMAPS, configmap("x"))
    reply, _ = await api.refused(method, path, b"[" * 5000, content_type=content_type)
    assert_status(reply.body, 400, "BadRequest")


# -- upstream's exact words ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "message"),
    [
        (
            "POST",
            CONFIGMAPS,
            configmap(),
            "text/plain",
            "the body of the request was in an unknown format - accepted media types include:"
            " application/json, application/yaml, application/vnd.kubernetes.protobuf",
        ),
        (
            "GET",
            f"{CONFIGMAPS}?resourceVersion=99999",
            None,
            None,
            "Timeout: Too large resource version: 99999, current: ",
        ),
        (
            "POST",
            f"{CONFIGMAPS}?fieldValidation=Bogus",
            configmap(),
            JSON,
            'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus":'
            ' supported values: "", "Ignore", "Strict", "Warn"',
        ),
        (
            "POST",
            f"{CONFIGMAPS}?dryRun=Some",
            configmap(),
            JSON,
            'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}:'
            ' supported values: "All"',
        ),
        (
            "POST",
            CONFIGMAPS,
            {**configmap(), "kind": "Secret"},
            JSON,
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to'
            " (core.ConfigMap): unknown conversion",
        ),
        (
            "POST",
            CONFIGMAPS,
            {**configmap(), "apiVersion": "apps/v1"},
            JSON,
            # the body's version without its group: transformDecodeError prints gvk.Version
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is'
            f' registered for version "apps/v1" in scheme "{LEGACY_SCHEME}"',
        ),
    ],
    ids=["415", "too-large-rv", "field-validation", "dry-run", "kind", "api-version"],
)
async def test_messages_match_upstream(
    api: Api, method: str, path: str, body: Any, content_type: str | None, message: str
) -> None:
    _, status = await api.refused(method, path, body, content_type=content_type)
    assert status["message"].startswith(message)


@pytest.mark.parametrize(
    ("options", "field", "error"),
    [
        (
            "fieldValidation=Bogus",
            "fieldValidation",
            'Unsupported value: "Bogus": supported values: "", "Ignore", "Strict", "Warn"',
        ),
        ("dryRun=Some", "dryRun", 'Unsupported value: []string{"Some"}: supported values: "All"'),
        (
            "dryRun=All&dryRun=Some",
            "dryRun",
            'Unsupported value: []string{"All", "Some"}: supported values: "All"',
        ),
    ],
)
async def test_bad_create_options_are_422_worded_as_upstream(
    api: Api, options: str, field: str, error: str
) -> None:
    reply, status = await api.refused("POST", f"{CONFIGMAPS}?{options}", configmap())
    assert_status(reply.body, 422, "Invalid")
    assert status["message"] == f'CreateOptions.meta.k8s.io "" is invalid: {field}: {error}'
    cause = {"reason": "FieldValueNotSupported", "message": error, "field": field}
    assert status["details"] == {"group": "meta.k8s.io", "kind": "CreateOptions", "causes": [cause]}


async def test_status_details_leave_out_an_empty_name(api: Api) -> None:
    reply, status = await api.refused("POST", CONFIGMAPS, {"data": {"a": "1"}})
    assert_status(reply.body, 422, "Invalid")
    assert list(status["details"]) == ["kind", "causes"]


async def test_eviction_with_a_stale_uid_precondition_is_a_conflict(api: Api) -> None:
    await api.create(PODS, pod("web"))
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "web"},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "x"}},
    }
    reply, status = await api.refused("POST", f"{PODS}/web/eviction", body)
    assert_status(reply.body, 409, "Conflict")
    assert status["message"].startswith(
        'Operation cannot be fulfilled on pods "web": Precondition failed: UID in precondition: x,'
    )
    assert (await api.send("GET", f"{PODS}/web")).status == 200


async def test_too_large_resource_version_names_its_cause(api: Api) -> None:
    reply, status = await api.refused("GET", f"{CONFIGMAPS}?resourceVersion=99999")
    assert_status(reply.body, 504, "Timeout")
    assert status["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }


# -- SPDY (kubectl's port-forward, and exec up to 1.29) ------------------------


async def test_garbage_on_an_upgraded_spdy_connection_ends_it_and_nothing_else(
    api: Api, tmp_path: Path
) -> None:
    """After the 101, bytes that are not SPDY/3 get a GOAWAY and the connection closes;
    the server goes on answering."""
    await api.create(PODS, pod("forwarded", nodeName="nowhere"))
    url = api.cluster.server.url
    host, port = url.removeprefix("https://").rsplit(":", 1)
    context = tls_context(api.cluster.server, tmp_path)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
    writer.write(
        f"POST {PODS}/forwarded/portforward HTTP/1.1\r\nHost: {host}\r\n"
        "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101")
    assert b"X-Stream-Protocol-Version: portforward.k8s.io" in head
    writer.write(b"\x80\x02" + b"\x00" * 30)  # a control frame of SPDY version 2
    rest = await asyncio.wait_for(reader.read(), 10)
    assert rest[:4] == b"\x80\x03\x00\x07"  # GOAWAY, then the end of the connection
    writer.close()
    reply = await api.send("GET", f"{PODS}/forwarded")
    assert reply.status == 200


async def test_an_upgrade_to_spdy_without_a_protocol_both_speak_is_403(api: Api) -> None:
    await api.create(PODS, pod("forwarded", nodeName="nowhere"))
    reply, status = await api.refused(
        "POST",
        f"{PODS}/forwarded/portforward",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": "v9.unknown",
        },
    )
    assert (reply.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        "unable to upgrade: unable to negotiate protocol: client supports [v9.unknown],"
        " server accepts [portforward.k8s.io]"
    )
