"""A probe worker: one container's one probe, run periodically (upstream's ``worker.go``).

The worker is an asyncio task that sleeps on an event between probes; a timer
(``call_later``) or a change of the container's state wakes it. A worker with
nothing to do (no running container, gated by the startup probe, on hold after
a failure) arms no timer at all, so idle workers cost nothing.

Results follow upstream: a probe result must repeat ``successThreshold`` /
``failureThreshold`` times in a row before it replaces the cached one; a
liveness or startup failure puts the worker on hold until a new container (the
restarted one) appears, so each failure run is reported once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pynetes.kubelet.prober.prober import ProbeKind, Prober
from pynetes.kubelet.prober.results import ProbeResult

log = logging.getLogger(__name__)

Object = dict[str, Any]
Clock = Callable[[], float]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], TimerHandle]

#: The cached result of a new container before its first probe, per kind (upstream's).
INITIAL_RESULTS = {
    ProbeKind.READINESS: ProbeResult.FAILURE,
    ProbeKind.LIVENESS: ProbeResult.SUCCESS,
    ProbeKind.STARTUP: ProbeResult.UNKNOWN,
}


@dataclass
class PodProbes:
    """What the workers of one pod share: the latest pod object and its IP."""

    pod: Object
    pod_ip: str
    workers: dict[tuple[str, ProbeKind], Worker] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.pod["metadata"]["uid"]

    @property
    def deleting(self) -> bool:
        return bool(self.pod["metadata"].get("deletionTimestamp"))


@dataclass(frozen=True)
class WorkerContext:
    """The manager's side of a worker: its tools and where results go."""

    prober: Prober
    clock: Clock
    call_later: CallLater
    #: Called with (worker, result, changed) each time the cached result is set.
    on_result: Callable[[Worker, ProbeResult, bool], None]
    #: Whether the worker's container has passed its startup probe (or has none).
    is_started: Callable[[Worker], bool]


class Worker:
    """Probes ``container`` of ``probes.pod`` with its ``kind`` probe."""

    def __init__(
        self,
        context: WorkerContext,
        probes: PodProbes,
        container: Object,
        kind: ProbeKind,
        *,
        not_before: float,
    ) -> None:
        self.context = context
        self.probes = probes
        self.container = container
        self.kind = kind
        self.spec: Object = container[kind.field]
        #: The cached result for the current container; None before any container.
        self.result: ProbeResult | None = None
        self.container_id = ""
        self._running = False
        self._started_at = 0.0
        self._last: ProbeResult | None = None
        self._run_length = 0
        self._on_hold = False
        self._quiet = False
        self._next_probe = 0.0
        #: Spreads the first probes after a kubelet start (upstream's random initial wait).
        self._not_before = not_before
        self._wake = asyncio.Event()
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.container["name"]

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name=f"probe {self.kind.value} {self.probes.uid}/{self.name}"
        )

    def cancel(self) -> asyncio.Task[None] | None:
        """End the worker (and a probe it is running); the task to await, if any."""
        self._disarm()
        if self._task is not None:
            self._task.cancel()
        return self._task

    def container_started(self, container_id: str, started_at: float) -> None:
        """A (new) container runs since ``started_at`` (the context's clock): probe it."""
        if container_id != self.container_id:
            self.container_id = container_id
            self.result = INITIAL_RESULTS[self.kind]
            self._last = None
            self._run_length = 0
            self._on_hold = False
            self._next_probe = 0.0
        self._running = True
        self._started_at = started_at
        self.poke()

    def container_stopped(self) -> None:
        """The container exited: no more probing; its results read as failures (upstream)."""
        self._running = False
        if self.result is not None:
            self.result = ProbeResult.FAILURE
        self.poke()

    def go_quiet(self) -> None:
        """The pod is being deleted: liveness and startup stop, reading as successes."""
        self._quiet = True
        if self.container_id and self._running:
            self._set(ProbeResult.SUCCESS)
        self.poke()

    def probe_now(self) -> None:
        """Probe without waiting for the period (the startup probe just passed)."""
        self._next_probe = 0.0
        self.poke()

    def poke(self) -> None:
        """Make the worker look at its state again."""
        self._disarm()
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._due_in()
            if delay is None:
                continue
            if delay > 0:
                self._timer = self.context.call_later(delay, self.poke)
                continue
            try:
                await self._probe()
            except Exception:
                log.exception("probe worker %s/%s failed", self.probes.uid, self.name)
            self._wake.set()

    def _due_in(self) -> float | None:
        """Seconds until the next probe is due; None when nothing is to be probed."""
        if (
            not self._running
            or self._on_hold
            or (self._quiet and self.kind is not ProbeKind.READINESS)
        ):
            return None
        if self.kind is ProbeKind.STARTUP:
            if self.result is ProbeResult.SUCCESS:
                return None
        elif not self.context.is_started(self):
            return None
        initial_delay = self.spec.get("initialDelaySeconds") or 0
        due = max(self._next_probe, self._not_before, self._started_at + initial_delay)
        return max(due - self.context.clock(), 0.0)

    async def _probe(self) -> None:
        container_id = self.container_id
        began = self.context.clock()
        self._next_probe = began + (self.spec.get("periodSeconds") or 10)
        result = await self.context.prober.probe(
            self.kind, self.probes.pod, self.container, container_id, self.probes.pod_ip
        )
        if result is None or container_id != self.container_id or not self._running:
            return  # errored, or the container changed meanwhile: the result is stale
        if result is self._last:
            self._run_length += 1
        else:
            self._last, self._run_length = result, 1
        threshold_key = "failureThreshold" if result is ProbeResult.FAILURE else "successThreshold"
        threshold = self.spec.get(threshold_key) or (3 if result is ProbeResult.FAILURE else 1)
        if self._run_length < threshold:
            return
        if self.kind is not ProbeKind.READINESS and result is ProbeResult.FAILURE:
            # The container will be restarted; probe again only once it has been.
            self._on_hold = True
            self._run_length = 0
        self._set(result)

    def _set(self, result: ProbeResult) -> None:
        changed = result is not self.result
        self.result = result
        self.context.on_result(self, result, changed)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
