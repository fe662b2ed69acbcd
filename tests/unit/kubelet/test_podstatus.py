"""The pod status a kubelet reports, from runtime containers and probe results."""

from datetime import UTC, datetime

from pynetes.kubelet.podstatus import PodView, Waiting, pod_status
from pynetes.kubelet.runtime.interface import ContainerState, ContainerStatus

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
NS = 1_795_000_000_000_000_000


def pod(restart_policy="Always", init=(), containers=("app",), conditions=()):
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {
            "restartPolicy": restart_policy,
            "initContainers": [{"name": n, "image": "busybox"} for n in init],
            "containers": [{"name": n, "image": "busybox"} for n in containers],
        },
        "status": {"conditions": list(conditions)},
    }


def container(name, state, attempt=0, exit_code=0, reason=""):
    return ContainerStatus(
        id=f"{name}-{attempt}",
        sandbox_id="s",
        name=name,
        attempt=attempt,
        state=state,
        image="busybox",
        image_ref="busybox:latest",
        created_at=NS,
        started_at=NS,
        finished_at=NS + 10**9 if state is ContainerState.EXITED else 0,
        exit_code=exit_code,
        reason=reason,
    )


def condition(status, kind):
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_a_running_container_makes_a_running_ready_pod():
    view = PodView(
        pod=pod(),
        host_ip="127.0.0.1",
        pod_ip="127.0.0.1",
        sandbox_ready=True,
        containers={"app": [container("app", ContainerState.RUNNING)]},
    )
    status = pod_status(view, NOW)
    assert status["phase"] == "Running"
    app = status["containerStatuses"][0]
    assert app["ready"] is True and app["started"] is True
    assert app["state"] == {"running": {"startedAt": "2026-11-18T11:06:40Z"}}
    assert app["containerID"] == "pynetes://app-0"
    assert condition(status, "Ready")["status"] == "True"
    assert status["podIP"] == "127.0.0.1" and status["qosClass"] == "BestEffort"


def test_readiness_probe_failing_keeps_the_pod_unready_with_upstreams_message():
    view = PodView(
        pod=pod(),
        host_ip="127.0.0.1",
        sandbox_ready=True,
        containers={"app": [container("app", ContainerState.RUNNING)]},
        ready=lambda _name: False,
    )
    status = pod_status(view, NOW)
    ready = condition(status, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [app]"


def test_crash_loop_shows_waiting_with_last_state_and_restart_count():
    exited = container("app", ContainerState.EXITED, attempt=3, exit_code=1)
    view = PodView(
        pod=pod(),
        host_ip="127.0.0.1",
        sandbox_ready=True,
        containers={"app": [exited, container("app", ContainerState.EXITED, 2, 1)]},
        waiting={"app": Waiting("CrashLoopBackOff", "back-off 40s restarting failed container")},
    )
    status = pod_status(view, NOW)
    app = status["containerStatuses"][0]
    assert app["restartCount"] == 3
    assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert app["lastState"]["terminated"]["reason"] == "Error"
    assert status["phase"] == "Running"


def test_never_policy_with_a_failed_container_is_failed_and_completed_is_succeeded():
    failed = PodView(
        pod=pod("Never"),
        host_ip="h",
        containers={"app": [container("app", ContainerState.EXITED, exit_code=2)]},
    )
    assert pod_status(failed, NOW)["phase"] == "Failed"
    done = PodView(
        pod=pod("OnFailure"),
        host_ip="h",
        containers={"app": [container("app", ContainerState.EXITED, exit_code=0)]},
    )
    status = pod_status(done, NOW)
    assert status["phase"] == "Succeeded"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "Completed"
    assert condition(status, "Ready")["reason"] == "PodCompleted"


def test_pending_init_containers_keep_the_pod_pending_and_not_initialized():
    view = PodView(
        pod=pod(init=("setup",)),
        host_ip="h",
        sandbox_ready=True,
        containers={"setup": [container("setup", ContainerState.RUNNING)]},
        waiting={"app": Waiting("PodInitializing")},
    )
    status = pod_status(view, NOW)
    assert status["phase"] == "Pending"
    initialized = condition(status, "Initialized")
    assert initialized["status"] == "False"
    assert initialized["message"] == "containers with incomplete status: [setup]"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_a_failed_init_container_fails_a_never_restarting_pod():
    view = PodView(
        pod=pod("Never", init=("setup",)),
        host_ip="h",
        containers={"setup": [container("setup", ContainerState.EXITED, exit_code=1)]},
    )
    assert pod_status(view, NOW)["phase"] == "Failed"


def test_deleted_pod_with_containers_stopped_is_terminal_whatever_the_policy():
    view = PodView(
        pod=pod("Always"),
        host_ip="h",
        containers={"app": [container("app", ContainerState.EXITED, exit_code=143)]},
        stopped_for_good=True,
    )
    assert pod_status(view, NOW)["phase"] == "Failed"


def test_conditions_of_others_are_kept_and_transition_times_move_only_on_change():
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"}
    base = pod(conditions=[scheduled])
    view = PodView(
        pod=base,
        host_ip="h",
        sandbox_ready=True,
        containers={"app": [container("app", ContainerState.RUNNING)]},
    )
    first = pod_status(view, NOW)
    assert condition(first, "PodScheduled") == scheduled
    later = datetime(2026, 11, 27, 13, 0, 0, tzinfo=UTC)
    view.pod = {**base, "status": first}
    second = pod_status(view, later)
    assert condition(second, "Ready")["lastTransitionTime"] == "2026-11-27T12:00:00Z"


def test_readiness_gates_must_be_true_for_ready():
    base = pod()
    base["spec"]["readinessGates"] = [{"conditionType": "example.com/ok"}]
    view = PodView(
        pod=base,
        host_ip="h",
        sandbox_ready=True,
        containers={"app": [container("app", ContainerState.RUNNING)]},
    )
    status = pod_status(view, NOW)
    ready = condition(status, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ReadinessGatesNotReady"
    assert condition(status, "ContainersReady")["status"] == "True"
    base["status"]["conditions"] = [{"type": "example.com/ok", "status": "True"}]
    assert condition(pod_status(view, NOW), "Ready")["status"] == "True"


def test_rejected_pod_is_failed_with_the_reason():
    view = PodView(pod=pod(), host_ip="h", rejected=Waiting("OutOfpods", "too many"))
    status = pod_status(view, NOW)
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed",
        "OutOfpods",
        "too many",
    )
