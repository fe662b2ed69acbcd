"""One probe of one container, run as upstream's ``prober.probe``: handler, retries, Events.

Every failed run records an ``Unhealthy`` Warning Event (``Liveness probe failed:
<output>``), a success with a warning a ``ProbeWarning`` one; a probe that could
not run at all is tried three times, then recorded as ``errored`` and its result
thrown away. Thresholds are the worker's business, not this module's.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from pynetes.client.events import WARNING
from pynetes.kubelet.env import expand, static_env
from pynetes.kubelet.format import container_reference, format_pod
from pynetes.kubelet.prober.exec import exec_probe
from pynetes.kubelet.prober.http import HttpGetter, http_get_request, http_probe
from pynetes.kubelet.prober.ports import resolve_container_port
from pynetes.kubelet.prober.results import ProbeError, ProbeOutcome, ProbeResult
from pynetes.kubelet.prober.tcp import tcp_probe
from pynetes.kubelet.runtime.interface import RuntimeService

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: Records an Event: (involved object or reference, type, reason, message), as
#: ``EventRecorder.event``.
Recorder = Callable[[Object, str, str, str], None]

MAX_PROBE_RETRIES = 3
UNHEALTHY = "Unhealthy"
PROBE_WARNING = "ProbeWarning"


class ProbeKind(enum.Enum):
    """The three probes; the value is how upstream's messages name them."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field holding this probe (``livenessProbe``...)."""
        return self.value.lower() + "Probe"


class Prober:
    """Runs probes against containers of one runtime; :meth:`close` it when done."""

    def __init__(self, runtime: RuntimeService, *, recorder: Recorder | None = None) -> None:
        self.runtime = runtime
        self._recorder = recorder
        self._http = HttpGetter()

    async def probe(
        self, kind: ProbeKind, pod: Object, container: Object, container_id: str, pod_ip: str
    ) -> ProbeResult | None:
        """SUCCESS or FAILURE of the container's ``kind`` probe; ``None`` when it errored.

        A warning counts as SUCCESS, an unknown result as FAILURE (as upstream).
        """
        spec = container[kind.field]
        outcome: ProbeOutcome | None = None
        error: ProbeError | None = None
        for _ in range(MAX_PROBE_RETRIES):
            try:
                outcome = await self.run(spec, pod, container, container_id, pod_ip)
                break
            except ProbeError as failure:
                error = failure
        if outcome is None:
            log.info("%s probe errored for %s: %s", kind.value, _describe(pod, container), error)
            self._record(
                pod,
                container,
                UNHEALTHY,
                f"{kind.value} probe errored and resulted in unknown state: {error}",
            )
            return None
        if outcome.result is ProbeResult.SUCCESS:
            return ProbeResult.SUCCESS
        if outcome.result is ProbeResult.WARNING:
            self._record(
                pod, container, PROBE_WARNING, f"{kind.value} probe warning: {outcome.output}"
            )
            return ProbeResult.SUCCESS
        if outcome.result is ProbeResult.FAILURE:
            log.info(
                "%s probe failed for %s: %s", kind.value, _describe(pod, container), outcome.output
            )
            self._record(pod, container, UNHEALTHY, f"{kind.value} probe failed: {outcome.output}")
        return ProbeResult.FAILURE

    async def run(
        self, spec: Object, pod: Object, container: Object, container_id: str, pod_ip: str
    ) -> ProbeOutcome:
        """One run of the probe ``spec`` (no Events); ProbeError when it cannot run."""
        time_limit = float(spec.get("timeoutSeconds") or 1)
        try:
            if "exec" in spec:
                env = static_env(container.get("env"))
                command = [expand(part, env) for part in spec["exec"].get("command") or ()]
                return await exec_probe(self.runtime, container_id, command, time_limit)
            if "httpGet" in spec:
                request = http_get_request(spec["httpGet"], container, pod_ip, "probe")
                return await http_probe(self._http, request, time_limit)
            if "tcpSocket" in spec:
                action = spec["tcpSocket"]
                port = resolve_container_port(action.get("port", ""), container)
                return await tcp_probe(action.get("host") or pod_ip, port, time_limit)
            if "grpc" in spec:
                # imported on the first gRPC probe: gRPC costs every kubelet ~15 MB
                from pynetes.kubelet.prober.grpc import grpc_probe

                action = spec["grpc"]
                return await grpc_probe(
                    pod_ip, action["port"], action.get("service") or "", time_limit
                )
        except ValueError as error:
            raise ProbeError(str(error)) from error
        raise ProbeError(f"missing probe handler for {format_pod(pod)}:{container.get('name')}")

    async def close(self) -> None:
        await self._http.close()

    def _record(self, pod: Object, container: Object, reason: str, message: str) -> None:
        if self._recorder is not None:
            self._recorder(container_reference(pod, container["name"]), WARNING, reason, message)


def _describe(pod: Object, container: Object) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}:{container.get('name')}"
