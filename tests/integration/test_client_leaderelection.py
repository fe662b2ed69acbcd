"""Leader election against the real API server: candidates in this process and in another.

Timings are short and real (a 2 s lease renewed every 0.2 s). Each test
watches the Lease from before the first candidate starts, so the history it
checks holds every write. Waits are bounded only to keep a broken elector
from hanging the suite; what is asserted is order, not speed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from pynetes.api.meta import micro_timestamp, parse_timestamp
from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.errors import Conflict
from pynetes.client.events import EventRecorder
from pynetes.client.leaderelection import LEASES, LeaderElector
from pynetes.client.rest import ApiClient, resource_path
from tests.integration.conftest import Cluster

EVENTS = built_in("", "v1", "events")
LEASE = "lock"
TIMING = {"lease_duration": 2.0, "renew_deadline": 1.5, "retry_period": 0.2}
#: Far longer than any test waits: taking over in time proves the lease was released.
LONG_LEASE = {"lease_duration": 60.0, "renew_deadline": 1.5, "retry_period": 0.2}
#: How long a wait may take before the test is failed rather than left hanging.
PATIENCE = 30.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Candidate:
    """An elector whose leading spells are recorded by this process's monotonic clock."""

    identity: str
    elector: LeaderElector = field(init=False)
    spells: list[list[float]] = field(default_factory=list)
    leaders_seen: list[str] = field(default_factory=list)
    new_leader: asyncio.Event = field(default_factory=asyncio.Event)
    leading: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: int = 0
    task: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        self.spells.append([time.monotonic(), float("inf")])
        self.leading.set()
        try:
            await asyncio.Future()
        finally:
            self.spells[-1][1] = time.monotonic()

    def on_new_leader(self, identity: str) -> None:
        self.leaders_seen.append(identity)
        self.new_leader.set()

    def on_stopped(self) -> None:
        self.stopped += 1

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def kill(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait({self.task})

    async def sees(self, leader: str) -> None:
        """Wait until this candidate has observed ``leader`` holding the Lease."""
        async with asyncio.timeout(PATIENCE):
            while leader not in self.leaders_seen:
                self.new_leader.clear()
                await self.new_leader.wait()


def candidate(
    client: ApiClient,
    identity: str,
    *,
    release: bool,
    recorder: EventRecorder | None = None,
    **timing: float,
) -> Candidate:
    made = Candidate(identity)
    made.elector = LeaderElector(
        client,
        "default",
        LEASE,
        identity,
        on_started_leading=made.lead,
        on_stopped_leading=made.on_stopped,
        on_new_leader=made.on_new_leader,
        release_on_cancel=release,
        recorder=recorder,
        **(timing or TIMING),
    )
    return made


def assert_never_two_leaders(*candidates: Candidate) -> None:
    spells = sorted(spell for each in candidates for spell in each.spells)
    for (_, first_end), (second_start, _) in itertools.pairwise(spells):
        assert first_end <= second_start, spells


class LeaseHistory:
    """Every state of the Lease's spec, in order, from a watch opened before it existed."""

    def __init__(self) -> None:
        self.specs: list[dict] = []
        self.changed = asyncio.Event()

    async def follow(self, client: ApiClient, resource_version: str) -> None:
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "fieldSelector": f"metadata.name={LEASE}",
        }
        async with client.stream(resource_path(LEASES, "default"), params=params) as chunks:
            buffered = b""
            async for chunk in chunks:
                *lines, buffered = (buffered + chunk).split(b"\n")
                for line in filter(None, lines):
                    self.specs.append(orjson.loads(line)["object"]["spec"])
                    self.changed.set()

    def holders(self) -> list[tuple[str, int]]:
        """(holder, leaseTransitions) as they changed, consecutive repeats (renewals) merged."""
        seen: list[tuple[str, int]] = []
        for spec in self.specs:
            state = (spec.get("holderIdentity") or "", spec.get("leaseTransitions", 0))
            if not seen or seen[-1] != state:
                seen.append(state)
        return seen

    async def ending_in(self, state: tuple[str, int]) -> list[tuple[str, int]]:
        """:meth:`holders`, once the watch has delivered ``state`` as the latest."""
        async with asyncio.timeout(PATIENCE):
            while not self.holders() or self.holders()[-1] != state:
                self.changed.clear()
                await self.changed.wait()
        return self.holders()

    def last_renewal(self, holder: str) -> str:
        return [s["renewTime"] for s in self.specs if s.get("holderIdentity") == holder][-1]

    def acquired(self, holder: str) -> str:
        return next(s["acquireTime"] for s in self.specs if s.get("holderIdentity") == holder)


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[ApiClient]:
    # no client-side rate limit: three candidates renewing every 0.2 s exceed client-go's 5 qps
    async with ApiClient(replace(load_config(cluster.kubeconfig), qps=0)) as client:
        yield client


@pytest.fixture
async def history(client: ApiClient) -> AsyncIterator[LeaseHistory]:
    watched = LeaseHistory()
    # watching from the list's revision: nothing written after it is missed, however late
    # the watch opens
    listed = await client.list(LEASES, namespace="default")
    task = asyncio.create_task(watched.follow(client, listed["metadata"]["resourceVersion"]))
    try:
        yield watched
    finally:
        task.cancel()
        await asyncio.wait({task})


async def first_to_lead(*candidates: Candidate) -> Candidate:
    waits = {asyncio.create_task(each.leading.wait()): each for each in candidates}
    async with asyncio.timeout(PATIENCE):
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waits[done.pop()]


async def test_one_of_two_leads_and_the_other_takes_over_when_the_lease_expires(client, history):
    a = candidate(client, "a", release=False)
    b = candidate(client, "b", release=False)
    a.start()
    b.start()
    leader = await first_to_lead(a, b)
    follower = b if leader is a else a
    await follower.sees(leader.identity)
    assert leader.elector.is_leader() and not follower.elector.is_leader()
    assert follower.elector.leader == leader.identity
    assert not follower.spells

    await leader.kill()  # without releasing: the follower must wait the lease out
    assert leader.stopped == 1 and not leader.elector.is_leader()
    async with asyncio.timeout(PATIENCE):
        await follower.leading.wait()
    await follower.kill()

    assert_never_two_leaders(a, b)
    assert await history.ending_in((follower.identity, 1)) == [
        (leader.identity, 0),
        (follower.identity, 1),
    ]
    taken = parse_timestamp(history.acquired(follower.identity))
    renewed = parse_timestamp(history.last_renewal(leader.identity))
    # by the follower's own clock, the record stood unchanged for the whole lease
    assert taken - renewed >= timedelta(seconds=TIMING["lease_duration"])


async def test_a_released_lease_is_taken_over_at_once(client, history):
    a = candidate(client, "a", release=True, **LONG_LEASE)
    a.start()
    async with asyncio.timeout(PATIENCE):
        await a.leading.wait()
    b = candidate(client, "b", release=True, **LONG_LEASE)
    b.start()
    await b.sees("a")

    await a.kill()
    # a 60 s lease: b could not lead within PATIENCE unless a released it
    async with asyncio.timeout(PATIENCE):
        await b.leading.wait()
    # b read the released Lease and took it in one try: it reports only the new holder
    assert b.leaders_seen == ["a", "b"]
    await b.kill()

    assert_never_two_leaders(a, b)
    # a released (holder "" for 1 s), b took over; b released on its way out too
    assert await history.ending_in(("", 1)) == [("a", 0), ("", 0), ("b", 1), ("", 1)]
    released = [spec for spec in history.specs if not spec.get("holderIdentity")]
    assert {spec["leaseDurationSeconds"] for spec in released} == {1}


async def test_the_lease_spec_is_what_client_go_writes(client, history):
    recorder = EventRecorder(client, "test", reporting_instance="")
    a = candidate(client, "a", release=True, recorder=recorder)
    a.start()
    async with asyncio.timeout(PATIENCE):
        await a.leading.wait()
        while len(history.specs) < 3:  # created, then renewed twice
            history.changed.clear()
            await history.changed.wait()
    await a.kill()
    await recorder.close()

    created, renewed = history.specs[0], history.specs[2]
    assert created["holderIdentity"] == "a"
    assert created["leaseDurationSeconds"] == 2
    assert created["leaseTransitions"] == 0
    assert created["acquireTime"] == created["renewTime"]
    # MicroTime: RFC 3339 with microseconds
    assert len(created["renewTime"]) == len("2024-01-01T00:00:00.000000Z")
    assert renewed["acquireTime"] == created["acquireTime"]
    assert renewed["renewTime"] > created["renewTime"]

    found = await client.list(EVENTS, namespace="default")
    messages = {event["message"] for event in found["items"] if event["reason"] == "LeaderElection"}
    assert messages == {"a became leader", "a stopped leading"}
    assert {event["involvedObject"]["kind"] for event in found["items"]} == {"Lease"}


async def test_a_leader_whose_lease_is_taken_stops_within_the_renew_deadline(client, history):
    a = candidate(client, "a", release=True)
    a.start()
    async with asyncio.timeout(PATIENCE):
        await a.leading.wait()

    # someone else writes the Lease, as a candidate would that saw it expire
    while True:
        lease = await client.get(LEASES, LEASE, namespace="default")
        spec = {**lease["spec"], "holderIdentity": "intruder", "leaseDurationSeconds": 60}
        spec["renewTime"] = spec["acquireTime"] = micro_timestamp(datetime.now(UTC))
        try:
            await client.replace(LEASES, {**lease, "spec": spec})
            break
        except Conflict:  # a renewed meanwhile
            continue

    async with asyncio.timeout(PATIENCE):
        await a.task
    assert a.stopped == 1 and not a.elector.is_leader()
    assert a.elector.leader == "intruder"
    assert a.spells[0][1] != float("inf")  # its work was stopped
    # releasing leaves a Lease that another holds alone
    assert await history.ending_in(("intruder", 0)) == [("a", 0), ("intruder", 0)]


async def test_failing_leader_work_ends_leadership_and_is_raised(client, history):
    async def fail() -> None:
        raise RuntimeError("work failed")

    stopped = []
    elector = LeaderElector(
        client,
        "default",
        LEASE,
        "a",
        on_started_leading=fail,
        on_stopped_leading=lambda: stopped.append(True),
        **TIMING,
    )
    async with asyncio.timeout(PATIENCE):
        with pytest.raises(RuntimeError, match="work failed"):
            await elector.run()
    assert stopped == [True]
    assert await history.ending_in(("", 0)) == [("a", 0), ("", 0)]


#: A candidate in its own process, to be killed with SIGKILL: no cleanup runs at all.
CANDIDATE_PROCESS = textwrap.dedent(
    """
    import asyncio, dataclasses, sys

    from pynetes.client.config import load_config
    from pynetes.client.leaderelection import LeaderElector
    from pynetes.client.rest import ApiClient

    async def lead():
        print("leading", flush=True)
        await asyncio.Future()

    async def main():
        config = dataclasses.replace(load_config(sys.argv[1]), qps=0)
        async with ApiClient(config) as client:
            elector = LeaderElector(
                client, "default", "lock", "process", on_started_leading=lead,
                lease_duration=2.0, renew_deadline=1.5, retry_period=0.2,
            )
            await elector.run()

    asyncio.run(main())
    """
)


@pytest.mark.slow
async def test_a_killed_leader_process_is_replaced_once_its_lease_expires(client, history, cluster):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CANDIDATE_PROCESS,
        str(cluster.kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(PATIENCE):
            assert await process.stdout.readline() == b"leading\n"
        here = candidate(client, "here", release=True)
        here.start()
        await here.sees("process")
        assert not here.spells

        process.kill()
        await process.wait()
        async with asyncio.timeout(PATIENCE):
            await here.leading.wait()
        await here.kill()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert await history.ending_in(("", 1)) == [("process", 0), ("here", 1), ("", 1)]
    taken = parse_timestamp(history.acquired("here"))
    renewed = parse_timestamp(history.last_renewal("process"))
    assert taken - renewed >= timedelta(seconds=TIMING["lease_duration"])
