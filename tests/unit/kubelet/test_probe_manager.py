"""The probe manager on a fake clock, its probes real commands: thresholds, gating, callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pynetes.kubelet.prober.manager import ProbeManager, probe_termination_grace_period
from pynetes.kubelet.prober.prober import ProbeKind
from tests.conftest import FakeClock, FakeTimer
from tests.unit.kubelet.conftest import ExecRuntime, until

UID = "uid-1"


@dataclass
class Kubelet:
    """What the manager tells the kubelet, recorded."""

    changes: list[str] = field(default_factory=list)
    liveness_failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    startup_failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    events: list[tuple[dict, str, str, str]] = field(default_factory=list)

    def messages(self, reason: str = "Unhealthy") -> list[str]:
        return [message for _, _, why, message in self.events if why == reason]


@dataclass
class Harness:
    manager: ProbeManager
    kubelet: Kubelet
    runtime: ExecRuntime
    clock: FakeClock
    timer: FakeTimer

    def start(self, container_id: str = "c1", name: str = "app") -> None:
        """The kubelet reports the container running since now."""
        self.manager.container_started(UID, name, container_id, int(self.clock() * 1e9))

    async def tick(self, seconds: float, *, execs: int) -> None:
        """Move time on, then wait until ``execs`` probe commands have run in all."""
        self.timer.advance(seconds)
        await until(lambda: self.runtime.execs == execs)


@pytest.fixture
async def harness(runtime: ExecRuntime) -> AsyncIterator[Harness]:
    kubelet = Kubelet()
    clock = FakeClock()
    timer = FakeTimer(clock)
    manager = ProbeManager(
        runtime,
        on_change=kubelet.changes.append,
        on_liveness_failure=lambda *args: kubelet.liveness_failures.append(args),
        on_startup_failure=lambda *args: kubelet.startup_failures.append(args),
        recorder=lambda *event: kubelet.events.append(event),
        clock=clock,
        wall_clock=clock,
        call_later=timer,
        random=lambda: 0.0,
    )
    yield Harness(manager, kubelet, runtime, clock, timer)
    await manager.close()


def pod(*containers: dict, restart_policy: str = "Always", **meta: object) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": UID, **meta},
        "spec": {"containers": list(containers), "restartPolicy": restart_policy},
    }


def exists(path: Path, **timing: int) -> dict:
    """A probe that passes while ``path`` exists."""
    return {"exec": {"command": ["test", "-e", str(path)]}, "periodSeconds": 10, **timing}


async def test_readiness_follows_its_thresholds(harness: Harness, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.touch()
    probe = exists(ready, successThreshold=2, failureThreshold=3)
    harness.manager.add_pod(pod({"name": "app", "readinessProbe": probe}))
    harness.start()
    assert harness.manager.readiness(UID, "app") is False
    assert harness.manager.started(UID, "app") is True

    await until(lambda: harness.runtime.execs == 1)
    assert harness.manager.readiness(UID, "app") is False  # one success of two
    await harness.tick(10, execs=2)
    assert harness.manager.readiness(UID, "app") is True
    assert harness.kubelet.changes == [UID]

    ready.unlink()
    await harness.tick(10, execs=3)
    await harness.tick(10, execs=4)
    assert harness.manager.readiness(UID, "app") is True  # two failures of three
    await harness.tick(10, execs=5)
    assert harness.manager.readiness(UID, "app") is False
    assert harness.kubelet.changes == [UID, UID]
    assert harness.kubelet.messages() == ["Readiness probe failed: "] * 3


async def test_container_without_a_readiness_probe_is_ready_while_it_runs(
    harness: Harness,
) -> None:
    harness.manager.add_pod(pod({"name": "app"}))
    assert harness.manager.started(UID, "app") is None
    assert harness.manager.readiness(UID, "app") is False
    harness.start()
    assert harness.manager.readiness(UID, "app") is True
    assert harness.manager.started(UID, "app") is True
    harness.manager.container_stopped(UID, "app", "c1")
    assert harness.manager.readiness(UID, "app") is False
    assert harness.manager.started(UID, "app") is False


async def test_liveness_failure_is_reported_once_per_run_then_probing_resumes(
    harness: Harness, tmp_path: Path
) -> None:
    probe = exists(tmp_path / "alive", failureThreshold=2)
    harness.manager.add_pod(pod({"name": "app", "livenessProbe": probe}))
    harness.start("c1")
    await until(lambda: harness.runtime.execs == 1)
    assert harness.kubelet.liveness_failures == []
    await harness.tick(10, execs=2)
    message = "Container app failed liveness probe, will be restarted"
    assert harness.kubelet.liveness_failures == [(UID, "app", "c1", message)]

    # On hold until the container is replaced: no timer, no more probes.
    assert harness.timer.armed == 0
    harness.timer.advance(60)
    assert harness.runtime.execs == 2

    harness.start("c2")  # the kubelet restarted it
    await until(lambda: harness.runtime.execs == 3)
    assert len(harness.kubelet.liveness_failures) == 1  # a new run starts from zero
    await harness.tick(10, execs=4)
    assert harness.kubelet.liveness_failures[1:] == [(UID, "app", "c2", message)]
    assert harness.kubelet.messages() == ["Liveness probe failed: "] * 4


async def test_startup_probe_gates_liveness_and_readiness(harness: Harness, tmp_path: Path) -> None:
    started = tmp_path / "started"
    container = {
        "name": "app",
        "startupProbe": exists(started, failureThreshold=30),
        "readinessProbe": {"exec": {"command": ["true"]}},
        "livenessProbe": {"exec": {"command": ["sh", "-c", "true"]}},
    }
    harness.manager.add_pod(pod(container))
    harness.start()
    await until(lambda: harness.runtime.execs == 1)
    await harness.tick(10, execs=2)
    assert harness.manager.started(UID, "app") is False
    assert harness.manager.readiness(UID, "app") is False

    started.touch()
    await harness.tick(10, execs=5)  # startup passes; readiness and liveness run at once
    assert [command for _, command in harness.runtime.commands[:3]] == [
        ["test", "-e", str(started)]
    ] * 3
    assert harness.manager.started(UID, "app") is True
    assert harness.manager.readiness(UID, "app") is True

    # Startup is not probed again for this container; the others go on.
    await harness.tick(10, execs=7)
    assert ["test", "-e", str(started)] not in [c for _, c in harness.runtime.commands[3:]]


@pytest.mark.parametrize(
    ("restart_policy", "message"),
    [
        ("Always", "Container app failed startup probe, will be restarted"),
        ("Never", "Container app failed startup probe"),
    ],
)
async def test_startup_failure_is_reported_with_the_killing_message(
    harness: Harness, tmp_path: Path, restart_policy: str, message: str
) -> None:
    probe = exists(tmp_path / "never", failureThreshold=2)
    harness.manager.add_pod(
        pod({"name": "app", "startupProbe": probe}, restart_policy=restart_policy)
    )
    harness.start()
    await until(lambda: harness.runtime.execs == 1)
    await harness.tick(10, execs=2)
    assert harness.kubelet.startup_failures == [(UID, "app", "c1", message)]
    assert harness.manager.started(UID, "app") is False


async def test_first_probe_waits_for_the_initial_delay(harness: Harness, tmp_path: Path) -> None:
    probe = exists(tmp_path, initialDelaySeconds=15)
    harness.manager.add_pod(pod({"name": "app", "readinessProbe": probe}))
    harness.start()
    await until(lambda: harness.timer.armed == 1)
    harness.timer.advance(14)
    assert harness.runtime.execs == 0
    await harness.tick(1, execs=1)
    assert harness.manager.readiness(UID, "app") is True


async def test_a_pod_being_deleted_is_no_longer_liveness_probed(
    harness: Harness, tmp_path: Path
) -> None:
    container = {
        "name": "app",
        "livenessProbe": exists(tmp_path / "gone", failureThreshold=1),
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10},
    }
    harness.manager.add_pod(pod(container))
    harness.manager.add_pod(pod(container, deletionTimestamp="2026-01-01T00:00:00Z"))
    harness.start()
    await until(lambda: harness.runtime.execs == 1)
    await harness.tick(10, execs=2)
    assert [command for _, command in harness.runtime.commands] == [["true"], ["true"]]
    assert harness.kubelet.liveness_failures == []


async def test_removed_pod_is_forgotten(harness: Harness, tmp_path: Path) -> None:
    harness.manager.add_pod(pod({"name": "app", "readinessProbe": exists(tmp_path)}))
    harness.start()
    await until(lambda: harness.manager.readiness(UID, "app"))
    harness.manager.remove_pod(UID)
    assert harness.manager.started(UID, "app") is None
    assert harness.manager.readiness(UID, "app") is False
    harness.timer.advance(60)
    assert harness.runtime.execs == 1


def test_grace_period_of_a_probe_kill_prefers_the_probes_own() -> None:
    container = {"name": "app", "livenessProbe": {"terminationGracePeriodSeconds": 5}}
    spec = {"terminationGracePeriodSeconds": 60, "containers": [container]}
    subject = {"metadata": {"uid": UID}, "spec": spec}
    assert probe_termination_grace_period(subject, container, ProbeKind.LIVENESS) == 5
    assert probe_termination_grace_period(subject, container, ProbeKind.STARTUP) == 60
    assert probe_termination_grace_period(subject, container, None) == 60
    deleting = {"metadata": {"uid": UID, "deletionGracePeriodSeconds": 10}, "spec": spec}
    assert probe_termination_grace_period(deleting, container, ProbeKind.LIVENESS) == 10
