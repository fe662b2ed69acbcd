"""The API server's client of kubelets: pods/log, exec, attach and portforward, proxied.

Where a kubelet listens: the Node's address of the first type in
:data:`PREFERRED_ADDRESS_TYPES` (kubeadm's ``--kubelet-preferred-address-types``)
and ``status.daemonEndpoints.kubeletEndpoint.Port`` (10250 when unset).

The API server authenticates to kubelets with a client certificate (its own
``kube-apiserver-kubelet-client`` in ``system:masters``, issued from the
cluster CA at start, or ``--kubelet-client-certificate``/``--kubelet-client-key``)
and does not verify the kubelet's serving certificate unless
``--kubelet-certificate-authority`` is given, as upstream.

Logs are streamed through as they come (chunked while following). exec,
attach and portforward are relayed frame by frame between the client's
WebSocket and one to the kubelet, with the subprotocol the kubelet chose.
Errors read as upstream's: an unreachable kubelet is a 500 whose message is
Go's dial error (``Get "https://...": dial tcp ...: connect: connection
refused`` for logs, ``error dialing backend: ...`` for streams); a kubelet's
400/404/500 answer becomes a BadRequest, NotFound or InternalError Status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from multidict import MultiDict
from yarl import URL

from pynetes.api import errors
from pynetes.api.errors import ApiError

Object = dict[str, Any]
NodeLookup = Callable[[str], Awaitable[Object]]

PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
DEFAULT_KUBELET_PORT = 10250
#: The client certificate's identity, as kubeadm names it.
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
_MAX_ERROR_BODY = 16 * 1024


def client_ssl_context(
    cert_file: Path, key_file: Path, certificate_authority: Path | None
) -> ssl.SSLContext:
    """TLS to kubelets: our client certificate; the kubelet's verified only against a given CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(cert_file, key_file)
    if certificate_authority is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=str(certificate_authority))
    return context


def kubelet_base_url(node: Object) -> URL:
    """``https://<address>:<port>`` of a Node's kubelet."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    port = (
        ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    ) or DEFAULT_KUBELET_PORT
    for kind in PREFERRED_ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return URL.build(scheme="https", host=address["address"], port=port)
    known = " ".join(f"{{{a.get('type')} {a.get('address')}}}" for a in addresses)
    raise ApiError(500, "", f"no preferred addresses found; known addresses: [{known}]")


class KubeletClient:
    """Proxies requests to kubelets over one pooled HTTPS session."""

    def __init__(self, ssl_context: ssl.SSLContext, nodes: NodeLookup) -> None:
        self._ssl = ssl_context
        self._nodes = nodes
        self._session: aiohttp.ClientSession | None = None

    async def url(self, node_name: str, path: str, query: MultiDict[str]) -> URL:
        """The kubelet URL of ``path`` on a node (404 ``nodes "x" not found`` if unknown)."""
        node = await self._nodes(node_name)
        return kubelet_base_url(node).with_path(path).with_query(query)

    async def read(self, node_name: str, path: str) -> str:
        """The text a node's kubelet answers at ``path`` (ApiError when it answers an
        error; aiohttp's errors when it cannot be reached)."""
        url = await self.url(node_name, path, MultiDict())
        async with self._client().get(url) as response:
            text = await response.text()
            if response.status != 200:
                raise _kubelet_error(response.status, text[:_MAX_ERROR_BODY], node_name, "nodes")
            return text

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                auto_decompress=False,
            )
        return self._session

    # -- logs ------------------------------------------------------------------

    async def stream_logs(
        self, request: web.BaseRequest, url: URL, *, name: str, follow: bool
    ) -> web.StreamResponse:
        try:
            backend = await self._client().get(url)
        except aiohttp.ClientConnectorError as error:
            raise ApiError(500, "", f'Get "{url}": {_dial_error(url, error)}') from None
        async with backend:
            if backend.status != 200:
                body = await backend.content.read(_MAX_ERROR_BODY)
                raise _kubelet_error(
                    backend.status, body.decode(errors="replace"), name, "pods/log"
                )
            response = web.StreamResponse()
            response.content_type = "text/plain"
            if follow:
                response.enable_chunked_encoding()
            await response.prepare(request)
            async for chunk in backend.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    # -- exec, attach, portforward ---------------------------------------------

    async def relay(
        self, request: web.BaseRequest, url: URL, *, name: str, subresource: str
    ) -> web.StreamResponse:
        """Relay the client's channel WebSocket to the kubelet's, frame by frame."""
        offered = [
            protocol.strip()
            for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if protocol.strip()
        ]
        backend = await self._connect(url, offered, name, f"pods/{subresource}")
        try:
            client = web.WebSocketResponse(
                protocols=(backend.protocol,) if backend.protocol else (), max_msg_size=0
            )
            if not client.can_prepare(request).ok:
                raise errors.bad_request(
                    "this API server serves exec and attach over WebSocket only"
                    f" (subprotocols {', '.join(offered) or 'v5.channel.k8s.io'}), not SPDY"
                )
            await client.prepare(request)
            await _pump_both(client, backend)
            return client
        finally:
            await backend.close()

    async def connect(
        self, url: URL, protocol: str, *, name: str, subresource: str
    ) -> aiohttp.ClientWebSocketResponse:
        """A channel WebSocket of ``protocol`` to the kubelet at ``url`` (ApiError when
        the kubelet cannot be reached or refuses, worded as for a relayed request)."""
        return await self._connect(url, [protocol], name, f"pods/{subresource}")

    async def _connect(
        self, url: URL, protocols: list[str], name: str, resource: str
    ) -> aiohttp.ClientWebSocketResponse:
        session = self._client()
        try:
            return await session.ws_connect(url, protocols=protocols, max_msg_size=0)
        except aiohttp.ClientConnectorError as error:
            raise ApiError(500, "", f"error dialing backend: {_dial_error(url, error)}") from None
        except aiohttp.WSServerHandshakeError:
            # The kubelet refused the upgrade: ask again without it, for its error text.
            async with session.get(url) as answer:
                body = await answer.content.read(_MAX_ERROR_BODY)
                text = body.decode(errors="replace")
                raise _kubelet_error(answer.status, text, name, resource) from None


async def _pump_both(
    client: web.WebSocketResponse, backend: aiohttp.ClientWebSocketResponse
) -> None:
    """Copy frames both ways until either side closes; then close the other."""
    up = asyncio.create_task(_pump(client, backend))
    down = asyncio.create_task(_pump(backend, client))
    try:
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        await asyncio.gather(client.close(), backend.close(), return_exceptions=True)


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)


def _dial_error(url: URL, error: aiohttp.ClientConnectorError) -> str:
    """Go's wording of a failed dial: ``dial tcp 127.0.0.1:10250: connect: connection refused``."""
    cause = error.os_error
    if cause.errno is not None:
        detail = f"connect: {os.strerror(cause.errno).lower()}"  # asyncio's strerror says more
    else:
        detail = str(cause) or type(cause).__name__
    host = f"[{url.host}]" if url.host and ":" in url.host else url.host
    return f"dial tcp {host}:{url.port}: {detail}"


def _kubelet_error(status: int, body: str, name: str, resource: str) -> ApiError:
    """A kubelet's error answer as upstream's GenericHttpResponseChecker reports it."""
    if status == 400:
        return errors.bad_request(body)
    if status == 500:
        return errors.internal_error(body)
    if status == 404:
        return ApiError(
            404,
            "NotFound",
            f"the server could not find the requested resource ( {resource} {name})",
            name=name,
            kind=resource,
            causes=[{"reason": "UnexpectedServerResponse", "message": body}] if body else [],
        )
    return ApiError(
        status,
        "",
        f"the server responded with the status code {status} but did not return more information",
        name=name,
        causes=[{"reason": "UnexpectedServerResponse", "message": body}] if body else [],
    )
