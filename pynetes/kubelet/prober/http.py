"""HTTP GETs for httpGet probes and lifecycle hooks, as upstream's ``pkg/probe/http``.

Certificates are not verified (the kubelet cannot know what a pod serves), no
proxy is used, no connection is kept alive, and redirects are followed only
while they stay on the same host (at most 10): a redirect elsewhere ends the
request with that 3xx response, which a probe counts as a success with a
warning. Failures carry Go's texts (``Get "http://...": dial tcp ...``), since
users compare them with what a real kubelet says.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from pynetes.kubelet.prober.ports import join_host_port, resolve_container_port
from pynetes.kubelet.prober.results import ProbeOutcome, ProbeResult
from pynetes.kubelet.prober.tcp import dial_error_text

Object = dict[str, Any]

#: The Kubernetes minor version the kubelet's User-Agent names (``kube-probe/1.31``).
KUBE_VERSION = "1.31"
#: Upstream reads at most this much of a response body.
MAX_BODY = 10 * 1024
MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class HttpGetRequest:
    """The GET an ``httpGet`` action asks for."""

    url: URL
    headers: CIMultiDict[str]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    #: The first MAX_BODY bytes of the body, decoded leniently.
    body: str


class HttpGetError(Exception):
    """The GET got no response; the message is Go's (``Get "url": ...``)."""

    def __init__(self, message: str, *, http_response_to_https: bool = False) -> None:
        super().__init__(message)
        #: An HTTPS request answered in plain HTTP (lifecycle hooks retry with HTTP).
        self.http_response_to_https = http_response_to_https


def http_get_request(
    action: Object, container: Object, pod_ip: str, purpose: str
) -> HttpGetRequest:
    """The request for an ``httpGet`` action (upstream's ``NewRequestForHTTPGetAction``).

    The host defaults to ``pod_ip``, the scheme to HTTP; the port is a number or
    a container port's name (ValueError when neither). ``purpose`` names the
    User-Agent (``kube-probe/1.31``, ``kube-lifecycle/1.31``) unless the action
    sets one; ``Accept`` defaults to ``*/*`` and an empty one is left out.
    """
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_container_port(action.get("port", ""), container)
    path = action.get("path") or ""
    if path and not path.startswith("/"):
        path = "/" + path
    headers: CIMultiDict[str] = CIMultiDict(
        (header["name"], header.get("value", "")) for header in action.get("httpHeaders") or ()
    )
    headers.setdefault("User-Agent", f"kube-{purpose}/{KUBE_VERSION}")
    if "Accept" not in headers:
        headers["Accept"] = "*/*"
    elif not headers["Accept"]:
        del headers["Accept"]
    return HttpGetRequest(URL(f"{scheme}://{join_host_port(host, port)}{path}"), headers)


class HttpGetter:
    """Runs :class:`HttpGetRequest` s on one aiohttp session; :meth:`close` it when done."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def get(self, request: HttpGetRequest, time_limit: float | None) -> HttpResponse:
        """The response, after same-host redirects; HttpGetError when there is none.

        ``time_limit`` (seconds, ``None`` for none) bounds the whole exchange,
        redirects and body included, as Go's ``Client.Timeout`` does.
        """
        url = request.url
        reading = False
        try:
            async with asyncio.timeout(time_limit):
                for _ in range(MAX_REDIRECTS):
                    reading = False
                    async with self._client().get(
                        url,
                        headers=request.headers,
                        allow_redirects=False,
                        skip_auto_headers=_skipped(request.headers),
                    ) as response:
                        reading = True
                        body = await _read_at_most(response.content, MAX_BODY)
                        target = _redirect_target(url, response)
                        if target is None or target.host != request.url.host:
                            return HttpResponse(response.status, body.decode(errors="replace"))
                    url = target
                raise HttpGetError(f'Get "{url}": stopped after {MAX_REDIRECTS} redirects')
        except TimeoutError:
            when = (
                "or context cancellation while reading body"
                if reading
                else ("exceeded while awaiting headers")
            )
            message = f'Get "{url}": context deadline exceeded (Client.Timeout {when})'
            raise HttpGetError(message) from None
        except aiohttp.ClientError as error:
            raise _get_error(url, error) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=False, force_close=True, limit=0),
                auto_decompress=False,
                trust_env=False,
            )
        return self._session


async def http_probe(
    getter: HttpGetter, request: HttpGetRequest, time_limit: float
) -> ProbeOutcome:
    """Success for a 2xx answer, success with a warning for an unfollowed 3xx, else failure."""
    try:
        response = await getter.get(request, time_limit)
    except HttpGetError as error:
        return ProbeOutcome(ProbeResult.FAILURE, str(error))
    if 200 <= response.status < 300:
        return ProbeOutcome(ProbeResult.SUCCESS, response.body)
    if 300 <= response.status < 400:
        return ProbeOutcome(
            ProbeResult.WARNING, f"Probe terminated redirects, Response body: {response.body}"
        )
    # Upstream leaves the body out of this text on purpose (it may hold secrets).
    return ProbeOutcome(
        ProbeResult.FAILURE, f"HTTP probe failed with statuscode: {response.status}"
    )


def _skipped(headers: CIMultiDict[str]) -> Iterable[str]:
    """Headers aiohttp must not add: no compression (as upstream), no Accept if left out."""
    return ("Accept-Encoding",) if "Accept" in headers else ("Accept-Encoding", "Accept")


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (all of it if shorter): the rest is not read."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await stream.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _redirect_target(url: URL, response: aiohttp.ClientResponse) -> URL | None:
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or not location:
        return None
    return url.join(URL(location))


def _get_error(url: URL, error: aiohttp.ClientError) -> HttpGetError:
    """Go's text for a GET that got no response."""
    host, port = url.host or "", url.port or 0
    if isinstance(error, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError) or (
        isinstance(error, aiohttp.ClientOSError) and isinstance(error.__cause__, ssl.SSLError)
    ):
        if "WRONG_VERSION_NUMBER" in str(error) or "record layer failure" in str(error):
            return HttpGetError(
                f'Get "{url}": http: server gave HTTP response to HTTPS client',
                http_response_to_https=True,
            )
        return HttpGetError(f'Get "{url}": {error}')
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return HttpGetError(f'Get "{url}": dial tcp: lookup {host}: no such host')
    if isinstance(error, aiohttp.ClientConnectorError):
        return HttpGetError(f'Get "{url}": {dial_error_text(host, port, error.os_error)}')
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return HttpGetError(f'Get "{url}": EOF')
    return HttpGetError(f'Get "{url}": {error}')
