"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection
with a ``resourcelock.LeaseLock``.

Candidates share one Lease. Its holder renews ``spec.renewTime`` every
``retry_period``; the others poll it and take it over once it has not
changed for ``leaseDurationSeconds``. Expiry is judged by each candidate's
own clock: a candidate notes *when it saw* the record last change, never
compares the remote ``renewTime`` with its own time, so clock skew between
machines does not matter (only their rates must roughly agree). Writes are
conditional on ``metadata.resourceVersion``: of two candidates racing for an
expired Lease, one gets a Conflict and tries again next period.

Leadership is guarded twice: the leader stops its work when it cannot renew
within ``renew_deadline`` (which is shorter than the lease duration), before
anyone else may take over.

Candidates retry acquiring every ``retry_period`` stretched by up to
:data:`JITTER_FACTOR` (so that they do not race in step); the leader renews
every ``retry_period`` exactly, as upstream. One deliberate difference: a
change is any difference in the record, to the microsecond. Upstream
compares the records' JSON, where times count to the second, so with a
sub-second retry period its observers can miss the last renewals before a
second boundary and let the lease expire up to a second early.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Self

from pynetes.api.meta import micro_timestamp, parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.events import NORMAL, EventRecorder
from pynetes.client.flowcontrol import Clock, Sleep
from pynetes.client.rest import ApiClient

log = logging.getLogger(__name__)

LEASES = built_in("coordination.k8s.io", "v1", "leases")
#: client-go's JitterFactor: a candidate retries after 1 to 2.2 retry periods.
JITTER_FACTOR = 1.2

Object = dict[str, Any]
#: Failures of a single try: it is logged and the try counts as unsuccessful.
_TRY_ERRORS = (errors.ApiError, errors.TransportError)


@dataclass(frozen=True)
class LeaderElectionRecord:
    """What the Lease's spec says about leadership (client-go's LeaderElectionRecord)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    leader_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Object) -> Self:
        """The record a Lease spec holds; absent fields read as their zero values."""
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=_parse_time(spec.get("acquireTime")),
            renew_time=_parse_time(spec.get("renewTime")),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> Object:
        """The Lease spec for this record, with MicroTime (microsecond) timestamps."""
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": _micro_time(self.acquire_time),
            "renewTime": _micro_time(self.renew_time),
            "leaseTransitions": self.leader_transitions,
        }


class LeaderElector:
    """One candidate, ``identity``, for the Lease ``namespace``/``name``.

    :meth:`run` waits to acquire the Lease, then runs ``on_started_leading()``
    as a task and renews the Lease until renewal fails or ``run`` is
    cancelled; the task is then cancelled (and awaited) before anything
    else happens. Other callbacks:

    * ``on_stopped_leading()`` runs when :meth:`run` ends, whether or not
      this candidate ever led (as upstream's ``Run`` defers it);
    * ``on_new_leader(identity)`` runs whenever the holder this candidate
      observes changes, including the first one it sees ("" when released).

    Both are plain functions called on the event loop and must not block.
    An exception from any callback ends :meth:`run` (after the usual
    cleanup) and propagates, as a panic in a callback ends the process
    upstream; ``on_started_leading`` returning normally does not end
    leadership.

    With ``release_on_cancel`` the Lease is released when leadership ends
    (holder "" and a 1 s duration, so that another candidate takes over at
    once): only after the leading task has finished, so no two candidates'
    work overlaps. Without it the others wait the lease duration out.

    ``recorder``, if given, records "<identity> became leader" and
    "<identity> stopped leading" Events on the Lease, as the LeaseLock does.
    ``clock`` measures expiry and deadlines (monotonic); ``wall_clock``
    stamps the Lease's times; ``sleep`` and ``random`` drive the waits.
    """

    def __init__(
        self,
        client: ApiClient,
        namespace: str,
        name: str,
        identity: str,
        *,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
        recorder: EventRecorder | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        _validate(namespace, name, identity, lease_duration, renew_deadline, retry_period)
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._on_started_leading = on_started_leading
        self._on_stopped_leading = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._recorder = recorder
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._random = random
        #: The Lease as last read or written: updates are made to it, at its resourceVersion.
        self._lease: Object | None = None
        self._observed = LeaderElectionRecord()
        #: The record as last read from the server: a read that differs is a change.
        self._last_read: LeaderElectionRecord | None = None
        self._observed_at = 0.0
        self._reported_leader = ""
        self._leading = False

    @property
    def description(self) -> str:
        """``namespace/name`` of the Lease, for messages."""
        return f"{self.namespace}/{self.name}"

    @property
    def leader(self) -> str:
        """The holder this candidate last observed ("" for none yet, or released)."""
        return self._observed.holder_identity

    def is_leader(self) -> bool:
        """Whether this candidate leads now: from acquisition until leadership is lost.

        Stricter than upstream's IsLeader (whether the last holder observed
        is this candidate), which stays true after renewals stopped
        succeeding, until another holder is read.
        """
        return self._leading

    async def run(self) -> None:
        """Acquire the Lease, lead until renewal fails or this is cancelled, then stop.

        Returns when leadership is lost; re-raises a cancellation after
        cleaning up. Call it again to stand for election again.
        """
        try:
            await self._acquire()
            await self._lead()
        finally:
            if self._on_stopped_leading is not None:
                self._on_stopped_leading()

    # -- the loops -----------------------------------------------------------

    async def _acquire(self) -> None:
        """Try every retry period (jittered) until this candidate holds the Lease."""
        log.info("attempting to acquire leader lease %s...", self.description)
        while not await self._try_and_report():
            await self._sleep(_jittered(self.retry_period, JITTER_FACTOR, self._random))
        log.info("successfully acquired lease %s", self.description)
        self._record_event("became leader")

    async def _lead(self) -> None:
        """Run the leading work while renewing; stop both when either ends badly."""
        self._leading = True
        work = asyncio.create_task(self._on_started_leading(), name=f"leading {self.description}")
        renewal = asyncio.create_task(self._renew(), name=f"renewing {self.description}")
        try:
            await _until_lost_or_failed(work, renewal)
        finally:
            self._leading = False
            await _stop(work)
            await _stop(renewal)
            if self.release_on_cancel:
                await self._release()
            self._record_event("stopped leading")
        _raise_failure(work, renewal)

    async def _renew(self) -> None:
        """Renew every retry period; returns once a renewal round fails."""
        while await self._renew_round():
            await self._sleep(self.retry_period)
        log.info("failed to renew lease %s within %s s", self.description, self.renew_deadline)

    async def _renew_round(self) -> bool:
        """Try every retry period until one renewal succeeds or ``renew_deadline`` passes.

        Each try is cut off at the deadline too, so a hung request cannot
        keep this candidate leading past it.
        """
        deadline = self._clock() + self.renew_deadline
        while True:
            try:
                async with asyncio.timeout(max(deadline - self._clock(), 0.0)):
                    renewed = await self._try_and_report()
            except TimeoutError:
                renewed = False
            if renewed:
                return True
            if self._clock() + self.retry_period >= deadline:
                return False
            await self._sleep(self.retry_period)

    async def _try_and_report(self) -> bool:
        """One try, then ``on_new_leader`` if the holder observed changed."""
        acquired = await self._try_acquire_or_renew()
        self._report_transition()
        return acquired

    # -- one try -------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> bool:
        """Acquire or renew the Lease once; whether this candidate holds it now.

        The leader first writes over the Lease it last saw (one request);
        on failure, and for everyone else, the Lease is read: created when
        missing, taken when released or unchanged for its duration, renewed
        when already ours.
        """
        now = self._clock()
        stamp = datetime.fromtimestamp(self._wall_clock(), UTC)
        desired = LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=int(self.lease_duration),
            acquire_time=stamp,
            renew_time=stamp,
        )
        fast_path = self._holds_observed() and self._observed_valid(now)
        if fast_path and await self._write(
            self._continued(desired, self._observed), "optimistic update"
        ):
            return True
        try:
            current = await self._get()
        except errors.NotFound:
            return await self._create(desired)
        except _TRY_ERRORS as error:
            log.error("error retrieving lease %s: %s", self.description, error)
            return False
        if current != self._last_read:
            self._observe(current)
            self._last_read = current
        if current.holder_identity and self._observed_valid(now) and not self._holds_observed():
            log.debug("lease %s is held by %s and has not expired", self.description, self.leader)
            return False
        if self._holds_observed():
            desired = self._continued(desired, current)
        else:
            desired = replace(desired, leader_transitions=current.leader_transitions + 1)
        return await self._write(desired, "update")

    async def _release(self) -> None:
        """Give the Lease up if this candidate holds it, as client-go's release.

        The Lease is read first (as client-go does after 1.31): a renewal
        cut off by cancellation may have been written all the same, leaving
        the resourceVersion this candidate knows stale; a Conflict means the
        same, and is retried. Unlike upstream, the holder read is checked
        too: a Lease another candidate took meanwhile is left alone.
        Bounded by ``renew_deadline``; a failure is logged, and the others
        then wait for the lease to expire.
        """
        if not self._holds_observed():
            return
        try:
            async with asyncio.timeout(self.renew_deadline):
                while not await self._try_release():
                    log.debug("conflict releasing lease %s; trying again", self.description)
        except TimeoutError:
            log.error("failed to release lease %s: timed out", self.description)

    async def _try_release(self) -> bool:
        """Release once; False when a Conflict calls for another try."""
        try:
            current = await self._get()
            if current.holder_identity != self.identity:
                return True
            stamp = datetime.fromtimestamp(self._wall_clock(), UTC)
            await self._update(
                LeaderElectionRecord(
                    lease_duration_seconds=1,
                    acquire_time=stamp,
                    renew_time=stamp,
                    leader_transitions=current.leader_transitions,
                )
            )
        except errors.Conflict:
            return False
        except _TRY_ERRORS as error:
            log.error("failed to release lease %s: %s", self.description, error)
        return True

    @staticmethod
    def _continued(
        desired: LeaderElectionRecord, held: LeaderElectionRecord
    ) -> LeaderElectionRecord:
        """``desired`` as a renewal of ``held``: same acquisition, same transitions."""
        return replace(
            desired, acquire_time=held.acquire_time, leader_transitions=held.leader_transitions
        )

    def _holds_observed(self) -> bool:
        return self._observed.holder_identity == self.identity

    def _observed_valid(self, now: float) -> bool:
        """Whether the observed record is younger than its duration, by this candidate's clock."""
        return self._observed_at + self._observed.lease_duration_seconds > now

    def _observe(self, record: LeaderElectionRecord) -> None:
        self._observed = record
        self._observed_at = self._clock()

    def _report_transition(self) -> None:
        if self.leader == self._reported_leader:
            return
        self._reported_leader = self.leader
        if self._on_new_leader is not None:
            self._on_new_leader(self.leader)

    def _record_event(self, action: str) -> None:
        if self._recorder is None or self._lease is None:
            return
        subject = {
            "apiVersion": LEASES.group_version,
            "kind": LEASES.kind,
            "metadata": self._lease.get("metadata") or {},
        }
        self._recorder.eventf(subject, NORMAL, "LeaderElection", "%s %s", self.identity, action)

    # -- the Lease -----------------------------------------------------------

    async def _get(self) -> LeaderElectionRecord:
        self._lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        return LeaderElectionRecord.from_spec(self._lease.get("spec") or {})

    async def _create(self, record: LeaderElectionRecord) -> bool:
        lease = {
            "apiVersion": LEASES.group_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_spec(),
        }
        try:
            self._lease = await self.client.create(LEASES, lease, namespace=self.namespace)
        except _TRY_ERRORS as error:
            log.error("error creating lease %s: %s", self.description, error)
            return False
        self._observe(record)
        return True

    async def _write(self, record: LeaderElectionRecord, what: str) -> bool:
        """:meth:`_update`, logging a failure; whether it took."""
        try:
            await self._update(record)
        except _TRY_ERRORS as error:
            log.warning("%s of lease %s failed: %s", what, self.description, error)
            return False
        return True

    async def _update(self, record: LeaderElectionRecord) -> None:
        """PUT ``record`` over the Lease last seen, at its resourceVersion (Conflict if stale)."""
        if self._lease is None:
            raise RuntimeError(f"lease {self.description} updated before it was read or created")
        lease = {**self._lease, "spec": record.to_spec()}
        self._lease = await self.client.replace(LEASES, lease, namespace=self.namespace)
        self._observe(record)


def _validate(
    namespace: str,
    name: str,
    identity: str,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
) -> None:
    """Upstream's NewLeaderElector checks, in its order; ValueError names the first broken one.

    The lease duration must be at least a second because the Lease holds
    whole seconds: a shorter one would be written as 0.
    """
    if lease_duration <= renew_deadline:
        raise ValueError(
            f"lease_duration ({lease_duration}) must be greater than renew_deadline"
            f" ({renew_deadline})"
        )
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError(
            f"renew_deadline ({renew_deadline}) must be greater than retry_period * {JITTER_FACTOR}"
            f" ({JITTER_FACTOR * retry_period:g})"
        )
    if lease_duration < 1:
        raise ValueError(f"lease_duration must be at least 1 second, not {lease_duration}")
    if renew_deadline <= 0:
        raise ValueError(f"renew_deadline must be greater than zero, not {renew_deadline}")
    if retry_period <= 0:
        raise ValueError(f"retry_period must be greater than zero, not {retry_period}")
    for what, value in (("namespace", namespace), ("name", name), ("identity", identity)):
        if not value:
            raise ValueError(f"the lease {what} must not be empty")


def _jittered(period: float, factor: float, random: Callable[[], float]) -> float:
    """``period`` stretched by up to ``factor`` of itself (client-go's ``wait.Jitter``)."""
    return period + random() * factor * period


async def _until_lost_or_failed(work: asyncio.Task[None], renewal: asyncio.Task[None]) -> None:
    """Wait until renewal ends, or the leading work fails (returning is not failing)."""
    pending: set[asyncio.Task[None]] = {work, renewal}
    while renewal in pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if work in done and _failure(work) is not None:
            return


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has finished; its outcome stays in it."""
    task.cancel()
    await asyncio.wait({task})


def _failure(task: asyncio.Task[None]) -> BaseException | None:
    """The exception ``task`` ended with; None while it runs, or if it returned or was cancelled."""
    if not task.done() or task.cancelled():
        return None
    return task.exception()


def _raise_failure(*tasks: asyncio.Task[None]) -> None:
    """Re-raise the first exception one of ``tasks`` ended with."""
    for task in tasks:
        error = _failure(task)
        if error is not None:
            raise error


def _parse_time(value: object) -> datetime | None:
    return parse_timestamp(value) if isinstance(value, str) else None


def _micro_time(moment: datetime | None) -> str | None:
    return None if moment is None else micro_timestamp(moment)
