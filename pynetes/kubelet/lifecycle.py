"""Container lifecycle hooks: postStart and preStop (upstream's ``lifecycle/handlers.go``).

Each runs the container's ``exec``, ``httpGet`` or ``sleep`` handler and returns
None on success or upstream's failure message, which the kubelet puts in its
Event: ``FailedPostStartHook`` with the message (and the container is killed),
``FailedPreStopHook`` with :data:`PRE_STOP_EVENT_MESSAGE` only (upstream keeps
the details, which may hold secrets, out of the Event).

As upstream, an httpGet hook fails only when no response comes back: the status
code is not looked at. Certificates are not verified; an HTTPS hook answered in
plain HTTP is retried over HTTP with a ``LifecycleHTTPFallback`` Warning Event.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from pynetes.api.gofmt import go_quote, go_value_slice
from pynetes.client.events import WARNING
from pynetes.kubelet.format import format_pod
from pynetes.kubelet.prober.http import HttpGetError, HttpGetter, http_get_request
from pynetes.kubelet.prober.prober import Recorder
from pynetes.kubelet.runtime.interface import RuntimeFailure, RuntimeService

log = logging.getLogger(__name__)

Object = dict[str, Any]

#: Event reasons the kubelet records for failed hooks (upstream's).
FAILED_POST_START_HOOK = "FailedPostStartHook"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
#: The message of the FailedPreStopHook Event (upstream's; the details stay in the log).
PRE_STOP_EVENT_MESSAGE = "PreStopHook failed"
LIFECYCLE_HTTP_FALLBACK = "LifecycleHTTPFallback"


async def run_post_start(
    runtime: RuntimeService,
    pod: Object,
    container: Object,
    container_id: str,
    pod_ip: str,
    *,
    recorder: Recorder | None = None,
) -> str | None:
    """Run the container's postStart hook to its end; None, or the failure message."""
    handler = (container.get("lifecycle") or {}).get("postStart")
    if not handler:
        return None
    return await _run(runtime, pod, container, container_id, pod_ip, handler, None, recorder)


async def run_pre_stop(
    runtime: RuntimeService,
    pod: Object,
    container: Object,
    container_id: str,
    pod_ip: str,
    time_limit: float,
    *,
    recorder: Recorder | None = None,
) -> str | None:
    """Run the container's preStop hook for at most ``time_limit`` seconds (the grace period).

    A hook still running then is abandoned without a failure, as upstream does:
    the kubelet goes on to stop the container.
    """
    handler = (container.get("lifecycle") or {}).get("preStop")
    if not handler:
        return None
    try:
        async with asyncio.timeout(time_limit):
            return await _run(
                runtime, pod, container, container_id, pod_ip, handler, time_limit, recorder
            )
    except TimeoutError:
        log.info(
            "preStop hook of %s:%s not completed in the grace period of %ss",
            format_pod(pod),
            container.get("name"),
            time_limit,
        )
        return None


async def _run(
    runtime: RuntimeService,
    pod: Object,
    container: Object,
    container_id: str,
    pod_ip: str,
    handler: Object,
    time_limit: float | None,
    recorder: Recorder | None,
) -> str | None:
    where = f"for Container {go_quote(container['name'])} in Pod {go_quote(format_pod(pod))}"
    if "exec" in handler:
        command = handler["exec"].get("command") or []
        error, output = await _run_exec(runtime, container_id, command, time_limit)
        if error is None:
            return None
        message = f"Exec lifecycle hook ({go_value_slice(command)}) {where} failed - error: "
        return message + f"{error}, message: {go_quote(output)}"
    if "httpGet" in handler:
        error = await _run_http(pod, container, handler["httpGet"], pod_ip, recorder)
        if error is None:
            return None
        path = handler["httpGet"].get("path", "")
        return f"HTTP lifecycle hook ({path}) {where} failed - error: {error}"
    if "sleep" in handler:
        await asyncio.sleep(handler["sleep"].get("seconds") or 0)
        return None
    return f"Cannot run handler: invalid handler: {handler}"


async def _run_exec(
    runtime: RuntimeService, container_id: str, command: list[str], time_limit: float | None
) -> tuple[str | None, str]:
    """(error text or None, the command's output), as upstream's RunInContainer."""
    try:
        # A time limit of 0 is none (the CRI's); the preStop caller bounds the wait itself.
        result = await runtime.exec_sync(container_id, command, time_limit or 0)
    except RuntimeFailure as error:
        return str(error) or type(error).__name__, ""
    output = (result.stdout + result.stderr).decode(errors="replace")
    if result.timed_out:
        return f"command {go_quote(' '.join(command))} timed out", output
    if result.exit_code != 0:
        stderr = result.stderr.decode(errors="replace")
        return f"command '{' '.join(command)}' exited with {result.exit_code}: {stderr}", output
    return None, output


async def _run_http(
    pod: Object, container: Object, action: Object, pod_ip: str, recorder: Recorder | None
) -> str | None:
    """None once the GET got a response (any status), else Go's error text."""
    if not action.get("host") and not pod_ip:
        return f"failed to find networking container: pod {format_pod(pod)} has no IP"
    try:
        request = http_get_request(action, container, pod_ip, "lifecycle")
    except ValueError as error:
        return str(error)
    getter = HttpGetter()
    try:
        try:
            await getter.get(request, None)
        except HttpGetError as error:
            if not error.http_response_to_https:
                return str(error)
            plain_headers = request.headers.copy()
            plain_headers.popall("Authorization", None)
            plain = replace(request, url=request.url.with_scheme("http"), headers=plain_headers)
            try:
                await getter.get(plain, None)
            except HttpGetError:
                return str(error)
            if recorder is not None:
                recorder(
                    {**pod, "kind": "Pod", "apiVersion": "v1"},
                    WARNING,
                    LIFECYCLE_HTTP_FALLBACK,
                    f"request to HTTPS lifecycle hook {request.url.raw_authority} got HTTP "
                    "response, retry with HTTP succeeded",
                )
        return None
    finally:
        await getter.close()
