"""Random requests against one real API server: never a 5xx, never a crash, never a half-write.

Hypothesis throws random methods, paths, query strings, headers and bodies
at every endpoint. Whatever arrives, the server must answer with a code a
client can act on, as kube-apiserver does: an error is a ``Status`` in
upstream's key order whose ``code`` is the HTTP status, a success is a JSON
object (or a stream of watch events); the server keeps answering
``/healthz``; and a request it refuses leaves the store exactly as it was.

Two 5xx codes are allowed, because upstream answers them to well-formed
requests too: 504 (a resourceVersion newer than the store has reached:
upstream's "Too large resource version" after its 3 s wait) and 503 (a
service that is not there, as upstream when storage is unreachable). No
other 5xx is. (``pods/log|exec|...`` of the fuzzed pod name a node that is
never registered, so they answer 404, not an unreachable kubelet's 500.)

Three tests share one server (starting one per example would dominate the
run): reads and writes aim at the real endpoints with the parameters,
headers and bodies clients send, the third at anything. Examples that
succeed change the store, which only widens what later examples meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from yarl import URL

from pynetes.apiserver.app import RunningServer, ServerOptions, start
from tests.integration.conftest import free_port
from tests.integration.http import STATUS_KEYS, Snapshot, session, store_snapshot

ALLOWED_5XX = {503, 504}
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- paths ---------------------------------------------------------------------

COLLECTIONS = [
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/fuzz/configmaps",
    "/api/v1/namespaces/missing/secrets",
    "/api/v1/configmaps",
    "/api/v1/events",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/deployments",
    "/apis/batch/v1/namespaces/default/jobs",
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/api/v1/watch/namespaces/default/pods",
]
OBJECTS = [
    "/api/v1/namespaces/fuzz",
    "/api/v1/namespaces/default",
    "/api/v1/namespaces/default/pods/web",
    "/api/v1/namespaces/default/pods/web/status",
    "/api/v1/namespaces/default/pods/web/binding",
    "/api/v1/namespaces/default/pods/web/eviction",
    "/api/v1/namespaces/default/pods/web/log",
    "/api/v1/namespaces/default/configmaps/seed",
    "/api/v1/namespaces/fuzz/configmaps/seed",
    "/api/v1/namespaces/default/configmaps/missing",
    "/apis/apps/v1/namespaces/default/deployments/web",
    "/apis/apps/v1/namespaces/default/deployments/web/scale",
    "/apis/apps/v1/namespaces/default/deployments/web/status",
]
DISCOVERY = ["/", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version"]
DISCOVERY += ["/openapi/v3", "/openapi/v3/api/v1", "/openapi/v2", "/healthz", "/readyz"]
_SEGMENTS = [
    "api",
    "apis",
    "v1",
    "v2",
    "apps",
    "namespaces",
    "default",
    "fuzz",
    "pods",
    "web",
    "configmaps",
    "seed",
    "nodes",
    "status",
    "scale",
    "log",
    "binding",
    "eviction",
    "exec",
    "finalize",
    "watch",
    "proxy",
    "openapi",
    "version",
    "healthz",
    ".",
    "..",
    "",
]
#: Characters that may appear raw in a path; anything else is percent-escaped.
_PATH_SAFE = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
_percent_escape = st.integers(0, 255).map(lambda byte: f"%{byte:02X}")
_random_segment = st.lists(
    st.one_of(st.sampled_from(_PATH_SAFE), _percent_escape), max_size=12
).map("".join)
_segment = st.one_of(st.sampled_from(_SEGMENTS), _random_segment)
_slash = st.sampled_from(["", "", "", "/"])
real_paths = st.builds(
    lambda path, slash: path + slash,
    st.sampled_from(COLLECTIONS + OBJECTS + DISCOVERY),
    _slash,
)
resource_paths = st.one_of(
    st.sampled_from(COLLECTIONS + OBJECTS),
    st.builds(lambda path, name: f"{path}/{name}", st.sampled_from(COLLECTIONS), _segment),
)
any_paths = st.one_of(
    real_paths,
    st.builds(lambda path, tail: f"{path}/{tail}", real_paths, _segment),
    st.builds(lambda segments, slash: "/" + "/".join(segments) + slash, st.lists(_segment), _slash),
)

# -- query strings -------------------------------------------------------------

_BOOLEANS = ["true", "True", "1", "false", "0", "", "yes"]
#: Values worth trying for each parameter a client sends; random text as well.
READ_PARAMETERS: dict[str, list[str]] = {
    "labelSelector": ["app=web", "app in (web,db)", "!app", "app", "a==b,c!=d", "=", "((", "a b"],
    "fieldSelector": [
        "metadata.name=seed",
        "metadata.namespace!=default",
        "status.phase=Running",
        "spec.nodeName=",
        "spec.foo=bar",
        "metadata.name",
        "=x",
    ],
    "limit": ["-1", "0", "1", "2", "500", "abc", str(2**63 - 1), str(2**63)],
    "continue": ["", "abc", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhIn0", "e30"],
    "resourceVersion": ["", "0", "1", "2", "5", "99999", str(2**64), "-1", "x", "1e3", " 1"],
    "resourceVersionMatch": ["Exact", "NotOlderThan", "Bogus", ""],
    "watch": _BOOLEANS,
    "allowWatchBookmarks": _BOOLEANS,
    "sendInitialEvents": _BOOLEANS,
    "includeObject": ["Object", "Metadata", "None", "Everything"],
    "pretty": _BOOLEANS,
}
WRITE_PARAMETERS: dict[str, list[str]] = {
    "dryRun": ["All", "all", "", "None"],
    "fieldManager": ["kubectl", "", "x" * 200, "a\tb"],
    "fieldValidation": ["Strict", "Warn", "Ignore", "strict", ""],
    "propagationPolicy": ["Foreground", "Background", "Orphan", "Sometimes", ""],
    "gracePeriodSeconds": ["0", "30", "-1", "abc", "9223372036854775808"],
    "orphanDependents": _BOOLEANS,
    "force": _BOOLEANS,
    "resourceVersion": ["", "1", "x"],
}
_random_text = st.text(alphabet=string.printable, max_size=12)


def query_strings(parameters: dict[str, list[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Up to four parameters, mostly with the values clients send, sometimes random text."""
    pair = st.one_of(
        *(
            st.tuples(st.just(name), st.one_of(st.sampled_from(values), _random_text))
            for name, values in parameters.items()
        )
    )
    return st.lists(pair, max_size=4)


# -- headers -------------------------------------------------------------------

_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/yaml",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    ";",
]
ACCEPTS = [
    "application/json",
    "*/*",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    "application/json;as=Table;v=v2;g=meta.k8s.io",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
    "text/html",
    "application/json;q=0",
    "application/json;q=abc",
    ",,,",
]
content_types = st.one_of(st.none(), st.sampled_from(CONTENT_TYPES), _header_text)
accepts = st.one_of(st.none(), st.sampled_from(ACCEPTS), _header_text)

# -- bodies --------------------------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["example.com/f"]},
    "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seed"}, "data": {}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}, "spec": {}}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}
DELETE_OPTIONS = {
    "kind": "DeleteOptions",
    "apiVersion": "v1",
    "gracePeriodSeconds": 0,
    "propagationPolicy": "Background",
    "preconditions": {"uid": "x", "resourceVersion": "1"},
    "dryRun": ["All"],
    "orphanDependents": False,
}
BINDING = {
    "apiVersion": "v1",
    "kind": "Binding",
    "metadata": {"name": "web"},
    "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
}
EVICTION = {
    "apiVersion": "policy/v1",
    "kind": "Eviction",
    "metadata": {"name": "web"},
    "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "x"}},
}
SCALE = {
    "apiVersion": "autoscaling/v1",
    "kind": "Scale",
    "metadata": {"name": "web"},
    "spec": {"replicas": 2},
}
_DEFAULT = "/api/v1/namespaces/default"
#: (method, path, the body clients send there): the write endpoints and their bodies.
ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"{_DEFAULT}/pods", POD),
    ("PUT", f"{_DEFAULT}/pods/web", POD),
    ("PUT", f"{_DEFAULT}/pods/web/status", POD),
    ("POST", f"{_DEFAULT}/pods/web/binding", BINDING),
    ("POST", f"{_DEFAULT}/pods/web/eviction", EVICTION),
    ("DELETE", f"{_DEFAULT}/pods/web", DELETE_OPTIONS),
    ("DELETE", f"{_DEFAULT}/configmaps", DELETE_OPTIONS),
    ("POST", f"{_DEFAULT}/configmaps", CONFIGMAP),
    ("PUT", f"{_DEFAULT}/configmaps/seed", CONFIGMAP),
    ("POST", "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT),
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/web", DEPLOYMENT),
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", SCALE),
    ("POST", "/api/v1/namespaces", NAMESPACE),
    ("PUT", "/api/v1/namespaces/fuzz/finalize", NAMESPACE),
    ("PUT", "/api/v1/namespaces/fuzz/status", NAMESPACE),
]
Where = tuple[str | int, ...]


def _fields(obj: Any, where: Where = ()) -> list[Where]:
    """Every place in ``obj`` a value sits, the whole object first."""
    found = [where]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _fields(value, (*where, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _fields(value, (*where, index))
    return found


def _with(obj: Any, where: Where, value: Any) -> Any:
    """A deep copy of ``obj`` with ``value`` at ``where`` (a place ``_fields`` found)."""
    if not where:
        return value
    copied = orjson.loads(orjson.dumps(obj))
    parent = copied
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = value
    return copied


def wrongly_typed(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """``template`` with one of its fields (or the whole) replaced by any JSON value."""
    return st.builds(
        lambda where, value: orjson.dumps(_with(template, where, value)),
        st.sampled_from(_fields(template)),
        json_values,
    )


_patch_paths = st.sampled_from(
    [
        "",
        "/",
        "/metadata/labels/app",
        "/metadata/name",
        "/metadata/resourceVersion",
        "/spec",
        "/spec/replicas",
        "/spec/containers/0/image",
        "/spec/containers/-",
        "/spec/containers/99",
        "/data/a~1b",
        "/status/phase",
        "no-slash",
    ]
)
json_patches = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "junk"]),
            "path": _patch_paths,
        },
        optional={"value": json_values, "from": _patch_paths},
    ),
    max_size=3,
)
_DIRECTIVES = [
    {"$patch": "delete"},
    {"$patch": "replace", "spec": {}},
    {"$patch": "junk"},
    {"spec": {"containers": [{"name": "c", "$patch": "delete"}]}},
    {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "x"}]}},
    {"spec": {"$retainKeys": ["containers"], "containers": None}},
    {"spec": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
    {"metadata": {"labels": None, "finalizers": ["example.com/hold"]}},
    {"spec": {"containers": [{"name": "c", "image": 7}]}},
]
bodies = st.one_of(
    st.none(),
    json_patches.map(orjson.dumps),
    st.sampled_from(_DIRECTIVES).map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.binary(max_size=64),
    st.integers(1, 80).map(lambda cut: orjson.dumps(POD)[:cut]),
    st.sampled_from(ENDPOINTS).flatmap(lambda endpoint: wrongly_typed(endpoint[2])),
    json_values.map(lambda value: yaml.safe_dump(value).encode()),
    st.sampled_from([b"a: [b", b"{" * 2000, b"[" * 2000, b"- &a [*a]", b"\xff\xfe"]),
)


@dataclass(frozen=True)
class Fuzzed:
    """One request, as generated: the path already escaped, the headers exactly as sent."""

    method: str
    path: str
    query: list[tuple[str, str]]
    content_type: str | None
    accept: str | None
    body: bytes | None

    def url(self, base: str) -> URL:
        """Absolute (a path starting ``//`` stays a path), with a 1 s limit on any watch."""
        parameters = [("timeoutSeconds", "1"), *self.query]
        encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in parameters)
        return URL(f"{base}{self.path}?{encoded}", encoded=True)

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        if self.accept is not None:
            headers["Accept"] = self.accept
        return headers


reads = st.builds(
    Fuzzed,
    method=st.just("GET"),
    path=real_paths,
    query=query_strings(READ_PARAMETERS),
    content_type=st.none(),
    accept=accepts,
    body=st.none(),
)
_random_writes = st.builds(
    Fuzzed,
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
    path=resource_paths,
    query=query_strings(WRITE_PARAMETERS),
    content_type=content_types,
    accept=accepts,
    body=bodies,
)
_endpoint_writes = st.sampled_from(ENDPOINTS).flatmap(
    lambda endpoint: st.builds(
        Fuzzed,
        method=st.just(endpoint[0]),
        path=st.just(endpoint[1]),
        query=query_strings(WRITE_PARAMETERS),
        content_type=st.one_of(st.just("application/json"), content_types),
        accept=st.none(),
        body=st.one_of(st.just(orjson.dumps(endpoint[2])), wrongly_typed(endpoint[2])),
    )
)
#: Mostly each endpoint's own body with one field of the wrong type, sometimes anything.
writes = st.one_of(_endpoint_writes, _endpoint_writes, _random_writes)
anything = st.builds(
    Fuzzed,
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]),
    path=any_paths,
    query=query_strings(READ_PARAMETERS | WRITE_PARAMETERS),
    content_type=content_types,
    accept=accepts,
    body=bodies,
)


# -- the server ----------------------------------------------------------------

#: (storage key, collection, object): what the fuzzed paths name, kept in place.
SEEDS: list[tuple[str, str, dict[str, Any]]] = [
    ("/registry/core/namespaces/fuzz", "/api/v1/namespaces", NAMESPACE),
    ("/registry/core/configmaps/default/seed", f"{_DEFAULT}/configmaps", CONFIGMAP),
    ("/registry/core/configmaps/fuzz/seed", "/api/v1/namespaces/fuzz/configmaps", CONFIGMAP),
    (
        "/registry/core/pods/default/web",
        f"{_DEFAULT}/pods",
        {**POD, "metadata": {"name": "web"}},  # without the finalizer: deletions finish
    ),
    (
        "/registry/apps/deployments/default/web",
        "/apis/apps/v1/namespaces/default/deployments",
        DEPLOYMENT,
    ),
]


class ErrorLog(logging.Handler):
    """Errors the server logs (a failed background task, an exception it caught and hid)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken = [self.format(record) for record in self.records]
        self.records.clear()
        return taken

    @classmethod
    @contextlib.contextmanager
    def attached(cls, logger: logging.Logger) -> Iterator[ErrorLog]:
        handler = cls()
        logger.addHandler(handler)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)


@dataclass(repr=False)
class Harness:
    """One API server, an admin HTTPS session to it, and the objects examples aim at."""

    server: RunningServer
    client: aiohttp.ClientSession
    stack: contextlib.AsyncExitStack
    logged: ErrorLog

    @classmethod
    async def open(cls, workdir: Path) -> Harness:
        stack = contextlib.AsyncExitStack()
        logged = stack.enter_context(ErrorLog.attached(logging.getLogger("pynetes")))
        # The server renews its master lease every reconcile interval: a write of its own
        # that a snapshot comparison would blame on the example. Once an hour is never here.
        options = ServerOptions(
            data_dir=workdir / "data", secure_port=free_port(), kubernetes_service_interval=3600.0
        )
        server = await start(options)
        stack.push_async_callback(server.stop)
        client = await stack.enter_async_context(session(server, workdir))
        return cls(server, client, stack, logged)

    async def seed(self) -> Snapshot:
        """Create the objects the fuzzed paths name that are missing; the store's contents after.

        Examples delete and evict them; recreating them keeps later examples
        reaching existing objects too.
        """
        snapshot = await store_snapshot(self.server.store)
        present = {key for key, _value, _revision in snapshot[1]}
        missing = [seed for seed in SEEDS if seed[0] not in present]
        for _key, path, obj in missing:
            async with self.client.post(
                path, data=orjson.dumps(obj), headers={"Content-Type": "application/json"}
            ) as response:
                # 403: the namespace an example deleted is still terminating
                assert response.status in (201, 403), await response.text()
        return await store_snapshot(self.server.store) if missing else snapshot

    async def close(self) -> None:
        await self.stack.aclose()

    async def check(self, fuzzed: Fuzzed) -> None:
        """Send ``fuzzed`` and check every promise the module docstring makes."""
        before = await self.seed()
        self.logged.take()  # what an earlier, failed example left
        async with self.client.request(
            fuzzed.method, fuzzed.url(self.server.url), data=fuzzed.body, headers=fuzzed.headers()
        ) as response:
            status = response.status
            content_type = response.headers.get("Content-Type", "")
            body = await response.read()
        event(f"{fuzzed.method} -> {status}")
        described = f"{fuzzed}\n-> {status} {body[:500]!r}"
        assert status < 500 or status in ALLOWED_5XX, described
        if body and content_type.startswith("application/json"):
            _check_json(status, body, described)
        if status >= 400:
            after = await store_snapshot(self.server.store)
            assert after == before, f"a refused request changed the store: {described}"
        async with self.client.get("/healthz") as health:
            assert (health.status, await health.text()) == (200, "ok"), described
        assert not self.logged.records, (
            f"the server logged errors: {self.logged.take()}\n{described}"
        )


def _check_json(status: int, body: bytes, described: str) -> None:
    """An error is a Status in upstream's key order; a success an object, or watch events."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        for line in body.splitlines():
            watch_event = orjson.loads(line)
            assert list(watch_event) == ["type", "object"], described
            if watch_event["type"] == "ERROR":
                _check_status(watch_event["object"], watch_event["object"].get("code"), described)
        return
    if status >= 400:
        _check_status(document, status, described)
    else:
        assert isinstance(document, dict), described


def _check_status(status: Any, code: int | None, described: str) -> None:
    assert isinstance(status, dict), described
    assert list(status) == [key for key in STATUS_KEYS if key in status], described
    assert {"kind", "apiVersion", "metadata", "status", "message", "code"} <= set(status), described
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", code), (
        described
    )


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.Runner, Harness]]:
    runner = asyncio.Runner()
    opened = runner.run(Harness.open(tmp_path_factory.mktemp("fuzz")))
    try:
        yield runner, opened
    finally:
        runner.run(opened.close())
        runner.close()


def _run(harness: tuple[asyncio.Runner, Harness], fuzzed: Fuzzed) -> None:
    runner, opened = harness
    runner.run(opened.check(fuzzed))


@SETTINGS
@given(fuzzed=reads)
def test_random_reads(harness: tuple[asyncio.Runner, Harness], fuzzed: Fuzzed) -> None:
    _run(harness, fuzzed)


@SETTINGS
@given(fuzzed=writes)
def test_random_writes(harness: tuple[asyncio.Runner, Harness], fuzzed: Fuzzed) -> None:
    _run(harness, fuzzed)


@SETTINGS
@given(fuzzed=anything)
def test_random_requests(harness: tuple[asyncio.Runner, Harness], fuzzed: Fuzzed) -> None:
    _run(harness, fuzzed)
