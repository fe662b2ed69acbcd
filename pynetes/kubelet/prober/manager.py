"""The probe manager: a worker per container probe, and the results the kubelet reads.

The kubelet tells the manager about pods (:meth:`ProbeManager.add_pod`,
:meth:`~ProbeManager.remove_pod`) and containers
(:meth:`~ProbeManager.container_started`, :meth:`~ProbeManager.container_stopped`),
and reads :meth:`~ProbeManager.readiness` and :meth:`~ProbeManager.started` when
it writes a pod's status. Upstream's rules hold:

- a container with a startup probe is not *started* until that probe succeeds,
  and its liveness and readiness probes wait until then;
- a container with a readiness probe is not ready until the probe succeeds; one
  without is ready as soon as it runs (and has started);
- a liveness (startup) failure past ``failureThreshold`` calls
  ``on_liveness_failure`` (``on_startup_failure``) once with the message of the
  ``Killing`` Event the kubelet then records; probing resumes for the restarted
  container (a new container id);
- once the pod is being deleted, liveness and startup probes stop.

``on_change(pod_uid)`` is called whenever a cached result changes, so the
kubelet can write the pod's status again. Changes the kubelet itself reported
(a container started or stopped) do not call it.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
import time
from collections.abc import Callable
from typing import Any

from pynetes.kubelet.prober.prober import ProbeKind, Prober, Recorder
from pynetes.kubelet.prober.results import ProbeResult
from pynetes.kubelet.prober.worker import CallLater, Clock, PodProbes, Worker, WorkerContext
from pynetes.kubelet.runtime.interface import RuntimeService

log = logging.getLogger(__name__)

Object = dict[str, Any]
#: (pod uid, container name, container id, message of the Killing Event).
FailureCallback = Callable[[str, str, str, str], None]

#: Upstream's default ``terminationGracePeriodSeconds``.
DEFAULT_GRACE_PERIOD = 30


class ProbeManager:
    """Probes the containers of the pods it is given; see the module's docstring.

    ``clock`` (monotonic seconds) and ``call_later`` drive the probe periods and
    delays (tests pass fakes to move time by hand); ``wall_clock`` converts the
    runtime's start times; ``random`` spreads the first probes after a kubelet
    start over one period, as upstream does. Must be made on the event loop.
    """

    def __init__(
        self,
        runtime: RuntimeService,
        *,
        on_change: Callable[[str], None],
        on_liveness_failure: FailureCallback | None = None,
        on_startup_failure: FailureCallback | None = None,
        recorder: Recorder | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        call_later: CallLater | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.prober = Prober(runtime, recorder=recorder)
        self._on_change = on_change
        self._on_liveness_failure = on_liveness_failure
        self._on_startup_failure = on_startup_failure
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._started = clock()
        self._context = WorkerContext(
            prober=self.prober,
            clock=clock,
            call_later=call_later or asyncio.get_running_loop().call_later,
            on_result=self._result_set,
            is_started=lambda worker: self._is_started(worker.probes, worker.name),
        )
        self._pods: dict[str, PodProbes] = {}
        #: (pod uid, container name) -> (container id, started at on ``clock``, running).
        self._containers: dict[tuple[str, str], tuple[str, float, bool]] = {}
        #: Tasks of removed workers, until they have ended.
        self._ending: set[asyncio.Task[None]] = set()

    # -- what the kubelet tells ----------------------------------------------

    def add_pod(self, pod: Object, *, pod_ip: str | None = None) -> None:
        """Start probing ``pod``'s containers; again with the same pod, take its news.

        ``pod_ip`` (default: the pod's ``status.podIP``) is where httpGet,
        tcpSocket and grpc probes connect when they name no host. Calling this
        again updates the pod object (a deletionTimestamp quiets liveness and
        startup probes) and the IP; probes themselves cannot change (the API
        forbids it).
        """
        uid = pod["metadata"]["uid"]
        ip = pod_ip if pod_ip is not None else (pod.get("status") or {}).get("podIP", "")
        probes = self._pods.get(uid)
        if probes is None:
            probes = self._pods[uid] = PodProbes(pod, ip)
            self._add_workers(probes)
        else:
            probes.pod, probes.pod_ip = pod, ip
        if probes.deleting:
            for (_, kind), worker in probes.workers.items():
                if kind is not ProbeKind.READINESS:
                    worker.go_quiet()

    def remove_pod(self, pod_uid: str) -> None:
        """Stop probing the pod and forget its results."""
        probes = self._pods.pop(pod_uid, None)
        for key in [key for key in self._containers if key[0] == pod_uid]:
            del self._containers[key]
        if probes is not None:
            for worker in probes.workers.values():
                task = worker.cancel()
                if task is not None:
                    self._ending.add(task)
                    task.add_done_callback(self._ending.discard)

    def container_started(
        self, pod_uid: str, container_name: str, container_id: str, started_at_wall_ns: int
    ) -> None:
        """``container_id`` runs, since ``started_at_wall_ns`` (the runtime's ``started_at``).

        Initial delays count from that time. A new id is a new container: its
        results start afresh (ready False, started False) and held probes resume.
        """
        elapsed = max(self._wall_clock() - started_at_wall_ns / 1e9, 0.0)
        started_at = self._clock() - elapsed
        known = self._containers.get((pod_uid, container_name))
        if known is not None and known[0] == container_id and known[2]:
            return
        self._containers[(pod_uid, container_name)] = (container_id, started_at, True)
        for worker in self._workers_of(pod_uid, container_name):
            worker.container_started(container_id, started_at)

    def container_stopped(self, pod_uid: str, container_name: str, container_id: str) -> None:
        """``container_id`` is no longer running: its probes stop until a new one starts."""
        known = self._containers.get((pod_uid, container_name))
        if known is None or known[0] != container_id:
            return
        self._containers[(pod_uid, container_name)] = (container_id, known[1], False)
        for worker in self._workers_of(pod_uid, container_name):
            worker.container_stopped()

    async def close(self) -> None:
        """Stop every worker and release the prober's connections."""
        for uid in list(self._pods):
            self.remove_pod(uid)
        if self._ending:
            await asyncio.wait(set(self._ending))
        await self.prober.close()

    # -- what the kubelet reads ----------------------------------------------

    def readiness(self, pod_uid: str, container_name: str) -> bool:
        """Whether the container is ready: running, started, and its readiness probe passed."""
        if not self.started(pod_uid, container_name):
            return False
        probes = self._pods.get(pod_uid)
        worker = probes.workers.get((container_name, ProbeKind.READINESS)) if probes else None
        return worker is None or worker.result is ProbeResult.SUCCESS

    def started(self, pod_uid: str, container_name: str) -> bool | None:
        """The container status' ``started``: None for a container never reported started."""
        known = self._containers.get((pod_uid, container_name))
        if known is None:
            return None
        if not known[2]:
            return False
        probes = self._pods.get(pod_uid)
        return probes is None or self._is_started(probes, container_name)

    # -- inside ----------------------------------------------------------------

    def _add_workers(self, probes: PodProbes) -> None:
        spec = probes.pod.get("spec") or {}
        sidecars = [
            c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"
        ]
        for container in [*(spec.get("containers") or ()), *sidecars]:
            for kind in (ProbeKind.STARTUP, ProbeKind.READINESS, ProbeKind.LIVENESS):
                if container.get(kind.field):
                    self._add_worker(probes, container, kind)

    def _add_worker(self, probes: PodProbes, container: Object, kind: ProbeKind) -> None:
        period = container[kind.field].get("periodSeconds") or 10
        now = self._clock()
        recently_started = now - self._started < period
        not_before = now + self._random() * period if recently_started else 0.0
        worker = Worker(self._context, probes, container, kind, not_before=not_before)
        probes.workers[(container["name"], kind)] = worker
        worker.start()
        known = self._containers.get((probes.uid, container["name"]))
        if known is not None:
            container_id, started_at, running = known
            worker.container_started(container_id, started_at)
            if not running:
                worker.container_stopped()

    def _workers_of(self, pod_uid: str, container_name: str) -> list[Worker]:
        probes = self._pods.get(pod_uid)
        if probes is None:
            return []
        return [w for (name, _), w in probes.workers.items() if name == container_name]

    def _is_started(self, probes: PodProbes, container_name: str) -> bool:
        startup = probes.workers.get((container_name, ProbeKind.STARTUP))
        return startup is None or startup.result is ProbeResult.SUCCESS

    def _result_set(self, worker: Worker, result: ProbeResult, changed: bool) -> None:
        uid, name = worker.probes.uid, worker.name
        if result is ProbeResult.FAILURE and worker.kind is not ProbeKind.READINESS:
            callback = (
                self._on_liveness_failure
                if worker.kind is ProbeKind.LIVENESS
                else self._on_startup_failure
            )
            if callback is not None:
                callback(uid, name, worker.container_id, kill_message(worker.probes.pod, worker))
        if worker.kind is ProbeKind.STARTUP and result is ProbeResult.SUCCESS and changed:
            for sibling in self._workers_of(uid, name):
                if sibling is not worker:
                    sibling.probe_now()
        if changed:
            self._on_change(uid)


def kill_message(pod: Object, worker: Worker) -> str:
    """The ``Killing`` Event's message for a container failing ``worker``'s probe (upstream's)."""
    message = f"Container {worker.name} failed {worker.kind.value.lower()} probe"
    if (pod.get("spec") or {}).get("restartPolicy", "Always") != "Never":
        message += ", will be restarted"
    return message


def probe_termination_grace_period(pod: Object, container: Object, kind: ProbeKind | None) -> int:
    """Seconds of grace for killing ``container`` because its ``kind`` probe failed.

    As upstream's ``setTerminationGracePeriod``: a pod being deleted with a
    grace period uses that; else a failing liveness or startup probe's own
    ``terminationGracePeriodSeconds`` wins over the pod's (default 30 s).
    ``kind`` None is a kill for another reason.
    """
    deletion_grace = pod["metadata"].get("deletionGracePeriodSeconds")
    if deletion_grace is not None:
        return deletion_grace
    pod_grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    if pod_grace is None:
        return DEFAULT_GRACE_PERIOD
    if kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP):
        probe_grace = (container.get(kind.field) or {}).get("terminationGracePeriodSeconds")
        if probe_grace is not None:
            return probe_grace
    return pod_grace
