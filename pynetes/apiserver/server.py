"""kube-apiserver: the HTTPS server, its one request handler, and the paths it answers.

The request path: TLS (client certificates verified against the cluster CA)
-> authentication (401 unless the path is public or anonymous-readable) -> request attributes
(parsed once, as upstream's RequestInfo) -> authorization -> the discovery,
OpenAPI or resource handler. Every error is a ``Status`` with upstream's
code, reason and key order; nothing a client sends makes it a 500.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import HttpVersion11, web
from aiohttp.hdrs import EXPECT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pynetes import __version__
from pynetes.api import errors, schema
from pynetes.api.errors import ApiError
from pynetes.api.resources import Resource, ResourceRegistry
from pynetes.apiserver import openapiv2proto
from pynetes.apiserver.auth.authentication import (
    ANONYMOUS,
    AuthenticationError,
    Authenticator,
    is_anonymous_readable,
    is_public,
)
from pynetes.apiserver.auth.authorization import (
    REQUEST_ATTRIBUTES,
    Attributes,
    Authorizer,
    RequestInfoError,
    request_attributes,
)
from pynetes.apiserver.discovery import Discovery, aggregated_response, aggregated_version
from pynetes.apiserver.handlers import ResourceApi, Target
from pynetes.apiserver.health import HealthChecks
from pynetes.apiserver.metrics import Metrics
from pynetes.apiserver.negotiation import MAX_BODY_BYTES
from pynetes.apiserver.openapi import OpenApi
from pynetes.apiserver.responses import json_response

log = logging.getLogger(__name__)

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class ComputedApi(Protocol):
    """Serves resources that are computed when asked, never stored (``stored=False``)."""

    async def serve(
        self, request: web.BaseRequest, resource: Resource, namespace: str, name: str
    ) -> web.StreamResponse: ...


_MINOR = schema.KUBERNETES_VERSION.split(".")[1]


def version_info() -> dict[str, str]:
    """``/version``: the Kubernetes release whose API is served (1.31); kubectl's
    dispatcher runs the client of that minor."""
    return {
        "major": "1",
        "minor": _MINOR,
        "gitVersion": f"v{schema.KUBERNETES_VERSION}+pynetes.{__version__}",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{platform.system().lower()}/{_architecture()}",
    }


def _architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


class ApiServer:
    """kube-apiserver over HTTPS: every request goes through :meth:`_handle`."""

    def __init__(
        self,
        resources: ResourceRegistry,
        api: ResourceApi,
        *,
        authenticator: Authenticator,
        authorizer: Authorizer,
        health: HealthChecks,
        server_address: str,
        computed: Mapping[Resource, ComputedApi],
    ) -> None:
        self.resources = resources
        self.api = api
        self.discovery = Discovery(resources)
        self.openapi = OpenApi(resources)
        self.metrics = Metrics()
        self._authenticator = authenticator
        self._authorizer = authorizer
        self.health = health
        self._server_address = server_address
        self._computed = computed

    def http_server(self) -> web.Server:
        """aiohttp's low-level server, calling :meth:`_handle` for every request.

        No Application, router or middleware chain: the server routes every path
        itself, from the request's attributes, and those layers took a third of the
        CPU of a small request (a bare TLS handler: 11,700-14,700 requests/s behind
        an Application with two middlewares, 18,400-22,600 without).
        """
        loop = asyncio.get_running_loop()

        def request(*parts: Any) -> web.BaseRequest:
            return web.BaseRequest(*parts, loop, client_max_size=MAX_BODY_BYTES)

        return web.Server(
            self._handle, request_factory=request, max_field_size=65536, access_log=None
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """One request: authenticated, authorized, answered; every error a Status;
        its verb, resource, code and duration counted."""
        started = time.perf_counter()
        code = 500
        try:
            if EXPECT in request.headers:
                await _expect(request)
            response = await self._authorized(request)
            code = response.status
            return response
        except ApiError as error:
            code = error.code
            return _status_response(error)
        except RequestInfoError as error:
            code = 404
            return _status_response(ApiError(404, "NotFound", str(error)))
        except web.HTTPException as error:
            code = error.status
            return _status_response(
                ApiError(error.status, error.reason, error.text or error.reason)
            )
        except ConnectionResetError:
            code = 499
            raise
        except Exception as error:
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status_response(errors.internal_error(type(error).__name__))
        finally:
            attributes = request.get(REQUEST_ATTRIBUTES)
            if attributes is not None:
                self.metrics.observe(attributes, code, time.perf_counter() - started)

    async def _authorized(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            user = await self._authenticator.authenticate(request)
        except AuthenticationError:
            raise errors.unauthorized() from None
        if user is None and not is_public(request.method, request.path):
            if not is_anonymous_readable(request.method, request.path):
                raise errors.unauthorized()
            user = ANONYMOUS
        attributes = request_attributes(request.method, request.path, request.query, user=user)
        request[REQUEST_ATTRIBUTES] = attributes
        if user is not None:
            decision = await self._authorizer.authorize(attributes)
            if not decision.allowed:
                raise errors.forbidden_request(
                    user.name,
                    attributes.verb,
                    attributes.api_group,
                    attributes.resource,
                    attributes.namespace,
                )
        return await self._dispatch(request)

    # -- routing ---------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        attributes: Attributes = request[REQUEST_ATTRIBUTES]
        if attributes.is_resource_request:
            return await self._resource(request, attributes)
        path = request.path.rstrip("/") or "/"
        parts = [part for part in path.split("/") if part]
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        if self.health.handles(path):
            return await self.health.answer(request)
        simple = self._simple_paths()
        if path in simple:
            return await simple[path](request)
        if parts[:1] == ["apis"] and len(parts) == 2:
            return json_response(self.discovery.group(parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 3:
            return json_response(self.discovery.resource_list(parts[1], parts[2]))
        if parts[:2] == ["openapi", "v3"] and len(parts) > 2:
            return self._openapi_v3(parts[2:])
        raise errors.path_not_found()

    def _simple_paths(self) -> dict[str, Handler]:
        return {
            "/version": self._version,
            "/metrics": self._metrics,
            "/api": self._api_versions,
            "/apis": self._api_groups,
            "/api/v1": self._core_resources,
            "/openapi/v3": self._openapi_index,
            "/openapi/v2": self._openapi_v2,
        }

    async def _resource(
        self, request: web.BaseRequest, attributes: Attributes
    ) -> web.StreamResponse:
        resource = self.resources.lookup(
            attributes.api_group, attributes.api_version, attributes.resource
        )
        if resource is None or (
            attributes.namespace and not resource.namespaced and resource.plural != "namespaces"
        ):
            raise errors.path_not_found()
        namespace = attributes.namespace if resource.namespaced else ""
        name = attributes.name
        if not resource.stored:
            if attributes.subresource:
                raise errors.path_not_found()
            return await self._computed[resource].serve(request, resource, namespace, name)
        target = Target(attributes.verb, resource, namespace, name, attributes.subresource)
        if attributes.verb == "delete":
            self.api.admission.admit_delete(resource, name)
        return await self.api.serve(request, target)

    async def _version(self, request: web.BaseRequest) -> web.StreamResponse:
        return json_response(version_info())

    async def _metrics(self, request: web.BaseRequest) -> web.StreamResponse:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _api_versions(self, request: web.BaseRequest) -> web.StreamResponse:
        version = aggregated_version(request.headers.get("Accept"))
        if version is not None:
            return aggregated_response(
                self.discovery.aggregated(core=True, version=version), version
            )
        return json_response(self.discovery.api_versions(self._server_address))

    async def _api_groups(self, request: web.BaseRequest) -> web.StreamResponse:
        version = aggregated_version(request.headers.get("Accept"))
        if version is not None:
            return aggregated_response(
                self.discovery.aggregated(core=False, version=version), version
            )
        return json_response(self.discovery.group_list())

    async def _core_resources(self, request: web.BaseRequest) -> web.StreamResponse:
        return json_response(self.discovery.resource_list("", "v1"))

    async def _openapi_index(self, request: web.BaseRequest) -> web.StreamResponse:
        return json_response(self.openapi.v3_index())

    def _openapi_v3(self, parts: list[str]) -> web.StreamResponse:
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise errors.path_not_found()
        if version not in self.resources.groups().get(group, []):
            raise errors.path_not_found()
        response = web.Response(body=self.openapi.v3_document(group, version))
        response.headers["Content-Type"] = "application/json"
        return response

    async def _openapi_v2(self, request: web.BaseRequest) -> web.StreamResponse:
        """JSON, or gnostic's protobuf when that is what the client accepts (kubectl <= 1.28)."""
        accept = request.headers.get("Accept", "")
        if openapiv2proto.MEDIA_TYPE in accept and "json" not in accept:
            response = web.Response(body=self.openapi.v2_protobuf())
            response.headers["Content-Type"] = openapiv2proto.CONTENT_TYPE
            return response
        if "protobuf" in accept and "json" not in accept:
            raise ApiError(
                406,
                "NotAcceptable",
                f"only application/json and {openapiv2proto.MEDIA_TYPE} are served for /openapi/v2",
            )
        response = web.Response(body=self.openapi.v2_document())
        response.headers["Content-Type"] = "application/json"
        return response


async def _expect(request: web.BaseRequest) -> None:
    """``Expect: 100-continue`` (curl's large uploads): go on, as aiohttp's router would."""
    expect = request.headers[EXPECT]
    if request.version != HttpVersion11:
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _status_response(error: ApiError) -> web.Response:
    response = web.Response(
        body=orjson.dumps(error.status()), status=error.code, content_type="application/json"
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response
