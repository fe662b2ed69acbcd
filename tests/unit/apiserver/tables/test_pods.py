"""``kubectl get pods``: the READY, STATUS and RESTARTS kubectl users read.

Expected cells are what kube-apiserver 1.31's printPod produces for the same
pods (several cases are upstream's own printers_test.go cases).
"""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.apiserver.tables import table_for

from .support import NOW, ago, headers, meta, row


def pod(
    *,
    containers: int = 1,
    statuses: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "containerStatuses": statuses or []}
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}"} for i in range(containers)]}
    if init is not None:
        spec["initContainers"] = init
    return {
        "metadata": meta("web-1", ago(days=2, hours=3), **metadata),
        "spec": spec,
        "status": status,
    }


def running(ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}


def waiting(reason: str, restarts: int = 0) -> dict[str, Any]:
    return {"ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def terminated(exit_code: int, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, **extra}
    if reason is not None:
        state["reason"] = reason
    return {"ready": False, "restartCount": 0, "state": {"terminated": state}}


def restarted(status: dict[str, Any], restarts: int, finished: str) -> dict[str, Any]:
    return {
        **status,
        "restartCount": restarts,
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": finished}},
    }


SIDECAR = {"name": "proxy", "restartPolicy": "Always"}


def status_cells(obj: dict[str, Any]) -> list[Any]:
    """NAME READY STATUS RESTARTS AGE, without the wide columns."""
    return row("", "pods", obj)[:5]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            pod(
                containers=2,
                statuses=[restarted(running(), 3, ago(minutes=5)), running()],
            ),
            ["web-1", "2/2", "Running", "3 (5m ago)", "2d3h"],
            id="running-2-of-2-with-restarts",
        ),
        pytest.param(
            pod(statuses=[restarted(waiting("CrashLoopBackOff"), 5, ago(seconds=45))]),
            ["web-1", "0/1", "CrashLoopBackOff", "5 (45s ago)", "2d3h"],
            id="crash-loop",
        ),
        pytest.param(
            pod(phase="Pending", statuses=[waiting("ErrImagePull")]),
            ["web-1", "0/1", "ErrImagePull", "0", "2d3h"],
            id="image-pull",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=[{"name": "migrate"}, {"name": "seed"}],
                init_statuses=[terminated(0, "Completed"), running(ready=False)],
                statuses=[waiting("PodInitializing")],
            ),
            ["web-1", "0/1", "Init:1/2", "0", "2d3h"],
            id="second-init-container-running",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=[{"name": "migrate"}],
                init_statuses=[restarted(waiting("CrashLoopBackOff"), 4, ago(minutes=1))],
            ),
            ["web-1", "0/1", "Init:CrashLoopBackOff", "4 (60s ago)", "2d3h"],
            id="init-crash-loop",
        ),
        pytest.param(
            pod(phase="Failed", init=[{"name": "migrate"}], init_statuses=[terminated(1, "Error")]),
            ["web-1", "0/1", "Init:Error", "0", "2d3h"],
            id="init-failed-with-reason",
        ),
        pytest.param(
            pod(phase="Pending", init=[{"name": "migrate"}], init_statuses=[terminated(2)]),
            ["web-1", "0/1", "Init:ExitCode:2", "0", "2d3h"],
            id="init-failed-exit-code",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=[{"name": "migrate"}],
                init_statuses=[terminated(137, signal=9)],
            ),
            ["web-1", "0/1", "Init:Signal:9", "0", "2d3h"],
            id="init-killed-by-signal",
        ),
        pytest.param(
            pod(
                phase="Pending",
                init=[{"name": "migrate"}],
                init_statuses=[terminated(0, "Completed")],
                statuses=[waiting("PodInitializing")],
            ),
            ["web-1", "0/1", "PodInitializing", "0", "2d3h"],
            id="pod-initializing",
        ),
        pytest.param(
            pod(phase="Succeeded", statuses=[terminated(0, "Completed")]),
            ["web-1", "0/1", "Completed", "0", "2d3h"],
            id="completed",
        ),
        pytest.param(
            pod(phase="Failed", statuses=[terminated(137, "OOMKilled")]),
            ["web-1", "0/1", "OOMKilled", "0", "2d3h"],
            id="oom-killed",
        ),
        pytest.param(
            pod(phase="Running", statuses=[terminated(143, signal=15)]),
            ["web-1", "0/1", "Signal:15", "0", "2d3h"],
            id="terminated-by-signal-without-reason",
        ),
        pytest.param(
            pod(
                containers=2,
                statuses=[terminated(0, "Completed"), running()],
                conditions=[{"type": "Ready", "status": "True"}],
            ),
            ["web-1", "1/2", "Running", "0", "2d3h"],
            id="one-completed-one-running-ready",
        ),
        pytest.param(
            pod(
                containers=2,
                statuses=[terminated(0, "Completed"), running()],
                conditions=[{"type": "Ready", "status": "False"}],
            ),
            ["web-1", "1/2", "NotReady", "0", "2d3h"],
            id="one-completed-one-running-not-ready",
        ),
        pytest.param(
            pod(
                phase="Pending",
                conditions=[
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ],
            ),
            ["web-1", "0/1", "SchedulingGated", "0", "2d3h"],
            id="scheduling-gated",
        ),
        pytest.param(
            {**pod(phase="Failed"), "status": {"phase": "Failed", "reason": "Evicted"}},
            ["web-1", "0/1", "Evicted", "0", "2d3h"],
            id="evicted",
        ),
        pytest.param(
            pod(statuses=[running()], deletionTimestamp=ago(seconds=10)),
            ["web-1", "1/1", "Terminating", "0", "2d3h"],
            id="terminating",
        ),
        pytest.param(
            # 1.31 (kubernetes#122038): a finished pod kept by a finalizer shows its phase.
            pod(
                phase="Succeeded",
                statuses=[terminated(0, "Completed")],
                deletionTimestamp=ago(seconds=10),
            ),
            ["web-1", "0/1", "Completed", "0", "2d3h"],
            id="deleted-but-already-completed",
        ),
        pytest.param(
            {
                **pod(statuses=[running()], deletionTimestamp=ago(minutes=6)),
                "status": {"phase": "Running", "reason": "NodeLost"},
            },
            ["web-1", "0/1", "Unknown", "0", "2d3h"],
            id="node-lost",
        ),
    ],
)
def test_status_column(obj: dict[str, Any], expected: list[Any]) -> None:
    assert status_cells(obj) == expected


def test_sidecars_count_as_containers_once_started() -> None:
    # Upstream's TestPrintPodWithRestartableInitContainer: two started sidecars, one container.
    obj = pod(
        init=[{"name": "a", "restartPolicy": "Always"}, {"name": "b", "restartPolicy": "Always"}],
        init_statuses=[
            restarted({**running(ready=False), "name": "a", "started": True}, 3, ago(seconds=10)),
            {**running(ready=False), "name": "b", "started": True},
        ],
        statuses=[restarted(running(), 4, ago(seconds=20))],
        conditions=[{"type": "Initialized", "status": "True"}],
    )
    assert status_cells(obj) == ["web-1", "1/3", "Running", "7 (10s ago)", "2d3h"]


def test_sidecar_not_started_keeps_the_pod_initializing() -> None:
    obj = pod(
        phase="Pending",
        init=[SIDECAR, {"name": "migrate"}],
        init_statuses=[
            restarted(
                {**running(ready=False), "name": "proxy", "started": False}, 3, ago(seconds=10)
            ),
            {"name": "migrate", "state": {"waiting": {}}},
        ],
        statuses=[waiting("PodInitializing")],
        conditions=[{"type": "Initialized", "status": "False"}],
    )
    assert status_cells(obj) == ["web-1", "0/2", "Init:0/2", "3 (10s ago)", "2d3h"]


def test_ready_sidecar_is_counted_ready() -> None:
    obj = pod(
        init=[SIDECAR],
        init_statuses=[{**running(ready=True), "name": "proxy", "started": True}],
        statuses=[running()],
        conditions=[{"type": "Initialized", "status": "True"}],
    )
    assert status_cells(obj)[1:3] == ["2/2", "Running"]


def test_wide_columns() -> None:
    obj = pod(statuses=[running()])
    obj["spec"]["nodeName"] = "node-1"
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
        {"conditionType": "example.com/fw"},
    ]
    obj["status"]["podIPs"] = [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}]
    obj["status"]["nominatedNodeName"] = "node-2"
    obj["status"]["conditions"] = [
        {"type": "example.com/lb", "status": "False"},
        {"type": "example.com/dns", "status": "True"},
    ]
    assert row("", "pods", obj)[5:] == ["10.244.1.7", "node-1", "node-2", "1/3"]


def test_wide_columns_of_an_unscheduled_pod_say_none() -> None:
    assert row("", "pods", pod(phase="Pending"))[5:] == ["<none>"] * 4


def test_age_of_a_pod_without_creation_timestamp_is_unknown() -> None:
    obj = pod()
    del obj["metadata"]["creationTimestamp"]
    assert status_cells(obj)[4] == "<unknown>"


@pytest.mark.parametrize(
    ("phase", "reason", "message"),
    [
        ("Succeeded", "Succeeded", "The pod has completed successfully."),
        ("Failed", "Failed", "The pod failed."),
    ],
)
def test_finished_pods_carry_a_completed_row_condition(
    phase: str, reason: str, message: str
) -> None:
    table = table_for("", "pods", [pod(phase=phase)], now=NOW)
    assert table["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": reason, "message": message}
    ]


def test_running_pods_carry_no_row_condition() -> None:
    assert "conditions" not in table_for("", "pods", [pod()], now=NOW)["rows"][0]


def test_columns_and_which_are_wide() -> None:
    assert headers("", "pods") == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
