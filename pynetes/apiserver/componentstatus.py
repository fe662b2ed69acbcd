"""core/v1 ComponentStatus (``kubectl get componentstatuses``, ``cs``): the health of the
control plane's other components, probed when asked, as kube-apiserver 1.31 still
serves it (deprecated since 1.19: every answer carries upstream's warning).

Upstream probes the scheduler and the controller manager on fixed local ports and
each etcd server's ``/health``; here the scheduler and the controller manager are
probed at the URLs the server is given (pynetes' components serve ``/healthz``
over plain HTTP, 10251 and 10252 by default), and the store as the health check
does: each etcd server's ``/health`` (``etcd-0``, ``etcd-1``...), or the embedded
store answering a read (``storage``). A probe is upstream's HTTP probe: 200 is
healthy with the body as the message; another status is unhealthy; no answer is
``Unknown`` with the error. Only GET and LIST; names outside the set are 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from pynetes.api import errors, labels
from pynetes.api.resources import Resource
from pynetes.apiserver import readonly

Object = dict[str, Any]
COMPONENT_STATUSES = Resource(
    "",
    "v1",
    "ComponentStatus",
    "componentstatuses",
    False,
    short_names=("cs",),
    verbs=("get", "list"),
    stored=False,
)
DEPRECATION = "v1 ComponentStatus is deprecated in v1.19+"
PROBE_TIMEOUT = 20.0
#: A probe result: the condition's status ("True", "False", "Unknown"), message, error.
Result = tuple[str, str, str]
Probe = Callable[[], Awaitable[Result]]


class ComponentStatusApi:
    """GET and LIST of ComponentStatus: each probe run when asked, all at once."""

    def __init__(self, probes: Mapping[str, Probe]) -> None:
        self._probes = dict(sorted(probes.items()))

    async def serve(
        self, request: web.BaseRequest, resource: Resource, namespace: str, name: str
    ) -> web.StreamResponse:
        readonly.refuse_all_but_reads(request)
        if name and name not in self._probes:
            raise errors.not_found_error("", "componentstatuses", name)
        names = [name] if name else list(self._probes)
        results = await asyncio.gather(*(self._probes[each]() for each in names))
        objects = [_status(each, result) for each, result in zip(names, results, strict=True)]
        selector = labels.parse_label_selector(request.query.get("labelSelector", ""))
        objects = [obj for obj in objects if selector.matches(obj["metadata"].get("labels"))]
        return readonly.answer(request, resource, objects, name=name, warnings=[DEPRECATION])


def _status(name: str, result: Result) -> Object:
    status, message, error = result
    condition = {"type": "Healthy", "status": status}
    if message:
        condition["message"] = message
    if error:
        condition["error"] = error
    return {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [condition],
    }


def http_probe(url: str, healthy: Callable[[bytes], bool] = lambda _body: True) -> Probe:
    """Upstream's HTTP probe of ``url``: 200 (and ``healthy(body)``) is "True" with the
    body as the message, another answer "False", no answer "Unknown" with the error."""

    async def probe() -> Result:
        try:
            timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return "Unknown", "", f'Get "{url}": {error or type(error).__name__}'
        text = body.decode(errors="replace")
        if response.status != 200:
            return "False", text, f"unhealthy http status code: {response.status}"
        if not healthy(body):
            return "False", text, f"unhealthy: {text}"
        return "True", text, ""

    return probe


def etcd_healthy(body: bytes) -> bool:
    """etcd's ``/health`` answers ``{"health":"true",...}`` when it is."""
    try:
        return orjson.loads(body).get("health") == "true"
    except (orjson.JSONDecodeError, AttributeError):
        return False


def store_probe(revision: Callable[[], Awaitable[int]]) -> Probe:
    """The embedded store answers a read of its revision."""

    async def probe() -> Result:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await revision()
        except Exception as error:  # any store failure is an unhealthy answer, never a 500
            return "False", "", f"the store does not answer: {error}"
        return "True", "ok", ""

    return probe


def probes(
    *,
    scheduler_url: str,
    controller_manager_url: str,
    etcd_servers: list[str],
    store_revision: Callable[[], Awaitable[int]],
) -> dict[str, Probe]:
    """Every component a ComponentStatus names, and how it is probed."""
    found = {
        "scheduler": http_probe(scheduler_url),
        "controller-manager": http_probe(controller_manager_url),
    }
    if etcd_servers:
        for number, server in enumerate(etcd_servers):
            found[f"etcd-{number}"] = http_probe(f"{server.rstrip('/')}/health", etcd_healthy)
    else:
        found["storage"] = store_probe(store_revision)
    return found
