"""The REST client: JSON requests to the API server, over one reused connection pool.

:class:`ApiClient` is what every pynetes component talks to the cluster
through (client-go's ``rest.RESTClient`` and the dynamic client in one):

* :meth:`ApiClient.request` sends any request and returns the decoded JSON;
  a failure raises a typed :mod:`pynetes.client.errors` error;
* :meth:`ApiClient.get`, ``list``, ``list_all``, ``create``, ``replace``,
  ``patch`` and ``delete`` address objects by a
  :class:`~pynetes.api.resources.Resource` (group, version, plural, scope);
* :meth:`ApiClient.stream` opens a long GET (a watch) and yields its body
  in chunks; :mod:`pynetes.client.watch` reads events from it.

Every attempt first takes a token from the client's rate limiter
(``config.qps``/``config.burst``, as client-go's); safe requests are retried
as :mod:`pynetes.client.retry` decides. Objects are plain dicts.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote

import aiohttp
import orjson

from pynetes.api.resources import Resource
from pynetes.client import errors
from pynetes.client.config import ClientConfig, load_config
from pynetes.client.flowcontrol import Clock, Sleep, TokenBucket
from pynetes.client.retry import RetryPolicy

Object = dict[str, Any]
Params = Mapping[str, object]
T = TypeVar("T")

JSON = "application/json"
#: Content types of the four patch strategies, by the short names ``patch`` takes.
PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}

#: A request whose response stalls this long is abandoned (and, if safe, retried).
#: kube-apiserver ends non-watch requests after 60 s itself.
REQUEST_READ_TIMEOUT = 120.0
CONNECT_TIMEOUT = 30.0
#: Bodies from this size on are parsed with the garbage collector paused (see decode_json).
LARGE_BODY = 1 << 20
#: How long a token read from a token file is used before the file is read again
#: (client-go's cached file token source).
TOKEN_FILE_REFRESH = 60.0


def resource_path(
    resource: Resource,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The URL path of a collection or an object.

    ``/api/v1/namespaces/<ns>/pods/<name>/status`` for the core group,
    ``/apis/<group>/<version>/...`` for others. ``namespace`` is ignored for
    cluster-scoped resources; None for a namespaced one means the
    collection across all namespaces.
    """
    parts = [
        "/api/" + resource.version if not resource.group else "/apis/" + resource.group_version
    ]
    if resource.namespaced and namespace:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(resource.plural)
    if name is not None:
        parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


class ApiClient:
    """One identity's connection to one API server; use as ``async with``.

    The aiohttp session (and its connection pool) is made on first use and
    closed by :meth:`close`. ``clock`` and ``sleep`` drive the rate limiter
    and the retry waits; tests inject them.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._limiter = (
            TokenBucket(config.qps, config.burst, clock=clock, sleep=sleep)
            if config.qps > 0
            else None
        )
        self._token = _BearerToken(config.token, config.token_file, clock)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: ClientConfig | None = None, **options: Any) -> Self:
        """A client for ``config``; without one, for what :func:`load_config` finds
        (the kubeconfig, or the pod's service account)."""
        return cls(config if config is not None else load_config(), **options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every pooled connection; the client may not be used afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- any request ---------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: object = None,
        content_type: str = JSON,
    ) -> Object:
        """Send a request; the response's JSON (``{}`` for an empty body).

        ``body`` is encoded as JSON unless it is already ``bytes`` or ``str``.
        ``params`` values may be str, int, bool (``true``/``false``), a list
        (the parameter repeated) or None (left out). Raises an
        :class:`~pynetes.client.errors.ApiError` subclass for an error
        response, :class:`~pynetes.client.errors.TransportError` when no
        response came.
        """
        data = _encode(body)

        async def exchange() -> bytes:
            response = await self._open(method, path, params, data, content_type)
            try:
                return await response.read()
            except (aiohttp.ClientError, OSError) as error:
                raise errors.TransportError(f"{method} {path}: {error}") from error
            finally:
                response.release()

        payload = await self._retrying(method, exchange)
        return decode_json(payload) if payload else {}

    @asynccontextmanager
    async def stream(
        self, path: str, *, params: Params | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """GET ``path`` and yield its body as it arrives, in chunks of any size.

        Opening is retried as any GET; an error while reading raises
        :class:`~pynetes.client.errors.TransportError`. Leaving the block
        closes the connection.
        """
        response = await self._retrying(
            "GET", lambda: self._open("GET", path, params, None, JSON, stream=True)
        )
        chunks = _chunks(response, path)
        try:
            yield chunks
        finally:
            await chunks.aclose()
            response.close()

    # -- objects -------------------------------------------------------------

    async def get(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> Object:
        """One object (``namespace`` defaults to the config's namespace)."""
        path = resource_path(resource, self._namespace(resource, namespace), name, subresource)
        return await self.request("GET", path)

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> Object:
        """One page of a list: ``{"items": [...], "metadata": {"continue": ...}, ...}``.

        ``namespace`` None lists across all namespaces.
        """
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
            "continue": continue_token,
            "resourceVersion": resource_version,
            "resourceVersionMatch": resource_version_match,
        }
        return await self.request("GET", resource_path(resource, namespace), params=params)

    async def list_all(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        page_size: int = 500,
    ) -> Object:
        """Every matching object, fetched ``page_size`` at a time (client-go's ListPager).

        The pages share one snapshot (the continue token carries its
        revision). If that snapshot expires midway (410), the whole list is
        fetched again in one request, as the pager's FullListIfExpired does.
        The result is the last page's list with every page's items and no
        continue token.
        """
        selection = {
            "namespace": namespace,
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        page = await self.list(
            resource, **selection, limit=page_size, resource_version=resource_version
        )
        items: list[Object] = []
        while True:
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
            try:
                page = await self.list(resource, **selection, limit=page_size, continue_token=token)
            except errors.Gone:
                return await self.list(resource, **selection)
        metadata = {
            key: value
            for key, value in (page.get("metadata") or {}).items()
            if key not in ("continue", "remainingItemCount")
        }
        return {**page, "metadata": metadata, "items": items}

    async def create(
        self,
        resource: Resource,
        obj: Object,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> Object:
        """POST ``obj``; the namespace is the argument, else the object's, else the config's."""
        path = resource_path(resource, self._namespace(resource, namespace, obj))
        params = {"fieldManager": field_manager}
        return await self.request("POST", path, params=params, body=obj)

    async def replace(
        self,
        resource: Resource,
        obj: Object,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> Object:
        """PUT ``obj`` over the object of its name (or over its ``status`` subresource).

        A ``metadata.resourceVersion`` in ``obj`` makes the update
        conditional: :class:`~pynetes.client.errors.Conflict` if it is stale.
        """
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("replace needs an object with metadata.name")
        namespace = self._namespace(resource, namespace, obj)
        path = resource_path(resource, namespace, name, subresource)
        return await self.request("PUT", path, params={"fieldManager": field_manager}, body=obj)

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: object,
        *,
        patch_type: str = "merge",
        namespace: str | None = None,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Object:
        """PATCH an object (or its subresource) with one of :data:`PATCH_TYPES`.

        ``apply`` is server-side apply: ``patch`` is the applied
        configuration, ``field_manager`` is required and ``force`` takes
        fields other managers own.
        """
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_TYPES)}, not {patch_type!r}")
        path = resource_path(resource, self._namespace(resource, namespace), name, subresource)
        params = {"fieldManager": field_manager, "force": force}
        return await self.request(
            "PATCH", path, params=params, body=patch, content_type=PATCH_TYPES[patch_type]
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> Object:
        """DELETE an object, with DeleteOptions in the body (as kubectl sends them).

        ``propagation_policy`` is Orphan, Background or Foreground;
        ``preconditions`` may hold ``uid`` and ``resourceVersion`` that the
        object must still have (else :class:`~pynetes.client.errors.Conflict`).
        Returns the object (still there while finalizers run) or a Status.
        """
        options: Object = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        path = resource_path(resource, self._namespace(resource, namespace), name)
        return await self.request("DELETE", path, body=options)

    # -- internals -----------------------------------------------------------

    def _namespace(
        self, resource: Resource, namespace: str | None, obj: Object | None = None
    ) -> str | None:
        if not resource.namespaced:
            return None
        if namespace:
            return namespace
        return ((obj or {}).get("metadata") or {}).get("namespace") or self.config.namespace

    async def _retrying(self, method: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` (one rate-limited try) until it succeeds or may not be retried."""
        tries = 0
        while True:
            tries += 1
            if self._limiter is not None:
                await self._limiter.wait()
            try:
                return await attempt()
            except (errors.ApiError, errors.TransportError) as error:
                delay = self._retry.delay(method, tries, error)
                if delay is None:
                    raise
                await self._sleep(delay)

    async def _open(
        self,
        method: str,
        path: str,
        params: Params | None,
        data: bytes | None,
        content_type: str,
        *,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send one request; its response if 2xx (the caller releases it), else raise."""
        headers = {"Accept": JSON, "User-Agent": self.config.user_agent}
        if data is not None:
            headers["Content-Type"] = content_type
        authorization = self._token.header()
        if authorization is not None:
            headers["Authorization"] = authorization
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=CONNECT_TIMEOUT,
            sock_read=None if stream else REQUEST_READ_TIMEOUT,
        )
        try:
            response = await self._client().request(
                method,
                self.config.server + path,
                params=_query(params),
                data=data,
                headers=headers,
                timeout=timeout,
                server_hostname=self.config.tls_server_name,
            )
        except (aiohttp.ClientError, OSError) as error:
            raise errors.TransportError(f"{method} {path}: {error}") from error
        if response.status < 400:
            return response
        try:
            body = await response.read()
        except (aiohttp.ClientError, OSError) as error:
            raise errors.TransportError(f"{method} {path}: {error}") from error
        finally:
            response.release()
        raise errors.from_response(
            response.status,
            body,
            method=method,
            content_type=response.headers.get("Content-Type", ""),
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or True, limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session


class _BearerToken:
    """The Authorization header: a fixed token, or one a token file holds.

    A token file is reread at most every :data:`TOKEN_FILE_REFRESH` seconds,
    since service account tokens rotate on disk; while it cannot be read,
    the last token read (or the configured one) is used.
    """

    def __init__(self, token: str | None, token_file: Path | None, clock: Clock) -> None:
        self._token = token
        self._file = token_file
        self._clock = clock
        self._read_at: float | None = None

    def header(self) -> str | None:
        if self._file is not None:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= TOKEN_FILE_REFRESH:
                self._read_at = now
                self._token = self._read() or self._token
        return f"Bearer {self._token}" if self._token else None

    def _read(self) -> str | None:
        try:
            return self._file.read_text().strip() or None  # type: ignore[union-attr]
        except OSError:
            return None


async def _chunks(response: aiohttp.ClientResponse, path: str) -> AsyncGenerator[bytes, None]:
    """The body as it arrives; a connection lost midway is a TransportError (aiohttp
    raises RuntimeError("Connection closed.") when the server goes while a read waits)."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, OSError, RuntimeError) as error:
        raise errors.TransportError(f"GET {path}: {error}") from error


def decode_json(body: bytes) -> Any:
    """``orjson.loads``, with Python's cyclic garbage collector paused for big bodies.

    A list of 50,000 pods (77 MiB) builds millions of dicts and lists, and
    the collections their allocation sets off rescan them again and again:
    4x the parse itself (2.6 s instead of 0.5 s). Parsing creates no
    cycles, so nothing is lost by collecting afterwards instead.
    """
    if len(body) < LARGE_BODY or not gc.isenabled():
        return orjson.loads(body)
    gc.disable()
    try:
        return orjson.loads(body)
    finally:
        gc.enable()


def _encode(body: object) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return orjson.dumps(body)


def _query(params: Params | None) -> list[tuple[str, str]]:
    """Query pairs in order, values as Kubernetes reads them; None values left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, _query_value(item)) for item in values if item is not None)
    return pairs


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(header: str | None) -> int | None:
    """A Retry-After in whole seconds (client-go ignores the HTTP-date form too)."""
    if header is None or not header.strip().isdigit():
        return None
    return int(header.strip())
