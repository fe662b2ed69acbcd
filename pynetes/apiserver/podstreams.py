"""pods/log, pods/exec, pods/attach and pods/portforward: the request turned into the kubelet's.

As upstream's pod REST storage (LogLocation, ExecLocation, AttachLocation,
PortForwardLocation): the container defaults to the pod's only one (a 400
naming the choices when there are several); the logs of a pod not yet
scheduled are empty, while exec, attach and portforward need its node (400);
the options become the kubelet's query (``stdin``/``stdout``/``stderr`` ->
``input``/``output``/``error``, ``ports`` -> ``port``). Refusing to exec
into a completed pod is kubectl's check, not the server's. kubectl's
port-forward (SPDY) is served here and forwarded port by port
(portforward.py), and so are exec and attach for a kubectl that speaks SPDY
(remotecommand.py).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDict
from yarl import URL

from pynetes.api import errors
from pynetes.api.pods import pod_containers
from pynetes.apiserver import portforward, query, remotecommand, spdyserver
from pynetes.apiserver.kubelet import KubeletClient

Object = dict[str, Any]
_LOG_FLAGS = ("follow", "previous", "timestamps")
_LOG_NUMBERS = ("tailLines", "sinceSeconds", "limitBytes")
_STREAM_FLAGS = (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty"))


async def serve(
    kubelet: KubeletClient, request: web.BaseRequest, pod: Object, subresource: str
) -> web.StreamResponse:
    """Proxy one pods/<subresource> request to the kubelet of the pod's node."""
    metadata = pod["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    container = "" if subresource == "portforward" else container_of(pod, request)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node and subresource == "log":
        return web.Response(content_type="text/plain")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if subresource == "portforward" and portforward.offered(request):

        async def dial(port: int) -> aiohttp.ClientWebSocketResponse:
            url = await kubelet.url(
                node, f"/portForward/{namespace}/{name}", MultiDict({"port": str(port)})
            )
            return await kubelet.connect(
                url, portforward.KUBELET_PROTOCOL, name=name, subresource=subresource
            )

        return await portforward.serve(request, dial)
    if subresource == "portforward":
        ports = ",".join(request.query.getall("ports", []))
        url = await kubelet.url(
            node, f"/portForward/{namespace}/{name}", MultiDict({"port": ports} if ports else {})
        )
        return await kubelet.relay(request, url, name=name, subresource=subresource)
    if subresource == "log":
        url = await kubelet.url(
            node, f"/containerLogs/{namespace}/{name}/{container}", _log_query(request)
        )
        follow = query.boolean(request.query, "follow")
        return await kubelet.stream_logs(request, url, name=name, follow=follow)
    forwarded: MultiDict[str] = MultiDict()
    for flag, parameter in _STREAM_FLAGS:
        if query.boolean(request.query, flag):
            forwarded.add(parameter, "1")
    if subresource == "exec":
        for argument in request.query.getall("command", []):
            forwarded.add("command", argument)
    url = await kubelet.url(node, f"/{subresource}/{namespace}/{name}/{container}", forwarded)
    if spdyserver.offers_upgrade(request):
        return await _serve_spdy(kubelet, request, url, name=name, subresource=subresource)
    return await kubelet.relay(request, url, name=name, subresource=subresource)


async def _serve_spdy(
    kubelet: KubeletClient, request: web.BaseRequest, url: URL, *, name: str, subresource: str
) -> web.StreamResponse:
    """exec or attach for a kubectl that speaks SPDY: the kubelet's session is opened
    first, so that its refusal is the answer to the upgrade."""
    protocol = remotecommand.KUBELET_PROTOCOL
    backend = await kubelet.connect(url, protocol, name=name, subresource=subresource)
    asked = {flag: query.boolean(request.query, flag) for flag, _ in _STREAM_FLAGS}
    expected = remotecommand.expected_streams(
        stdin=asked["stdin"], stdout=asked["stdout"], stderr=asked["stderr"], tty=asked["tty"]
    )
    try:
        return await spdyserver.serve_upgraded(
            request,
            (remotecommand.STREAM_PROTOCOL,),
            lambda _, send: remotecommand.SpdyRemoteCommand(send, backend, expected),
        )
    finally:
        await backend.close()


def container_of(pod: Object, request: web.BaseRequest) -> str:
    """The container a request is for: the one named, or the pod's only container."""
    container = request.query.get("container", "")
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    if not container:
        containers = spec.get("containers") or []
        if len(containers) == 1:
            return containers[0]["name"]
        if not containers:
            raise errors.bad_request(f"pod {name} does not have a container")
        choices = " ".join(_all_container_names(spec))
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{choices}]"
        )
    if container not in _all_container_names(spec):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _all_container_names(spec: Object) -> list[str]:
    return [container["name"] for container in pod_containers(spec)]


def _log_query(request: web.BaseRequest) -> MultiDict[str]:
    forwarded: MultiDict[str] = MultiDict()
    for flag in _LOG_FLAGS:
        if query.boolean(request.query, flag):
            forwarded[flag] = "true"
    for number in _LOG_NUMBERS:
        value = query.integer(request.query, number)
        if value is not None:
            forwarded[number] = str(value)
    since_time = request.query.get("sinceTime")
    if since_time:
        forwarded["sinceTime"] = since_time
    return forwarded
