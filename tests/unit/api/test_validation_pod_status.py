"""A write through pods/status is checked by upstream's ValidatePodStatusUpdate rules,
worded as upstream words them."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.api.validation.semantic import validate_update
from tests.unit.api.test_validation_semantic import messages

RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
TERMINATED_OK = {"terminated": {"exitCode": 0, "reason": "Completed"}}
TERMINATED_FAILED = {"terminated": {"exitCode": 1, "reason": "Error"}}


def pod(policy: str = "Always", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "resourceVersion": "1", "uid": "u"},
        "spec": {
            "restartPolicy": policy,
            "containers": [{"name": "app", "image": "busybox"}],
            "initContainers": [
                {"name": "setup", "image": "busybox"},
                {"name": "sidecar", "image": "busybox", "restartPolicy": "Always"},
            ],
        },
        "status": status,
    }


def app(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "app", "state": state}]


def errors(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    return messages(validate_update("", "v1", "Pod", new, old, subresource="status"))


@pytest.mark.parametrize(
    ("policy", "before", "expected"),
    [
        ("Always", TERMINATED_OK, []),
        ("OnFailure", TERMINATED_FAILED, []),
        (
            "OnFailure",
            TERMINATED_OK,
            [
                "status.containerStatuses[0].state: Forbidden: may not be transitioned to"
                " non-terminated state"
            ],
        ),
        (
            "Never",
            TERMINATED_FAILED,
            [
                "status.containerStatuses[0].state: Forbidden: may not be transitioned to"
                " non-terminated state"
            ],
        ),
        ("Never", RUNNING, []),
    ],
)
def test_a_terminated_container_stays_terminated_unless_the_pod_restarts_it(
    policy: str, before: dict[str, Any], expected: list[str]
) -> None:
    old = pod(policy, containerStatuses=app(before))
    assert errors(pod(policy, containerStatuses=app(RUNNING)), old) == expected


def test_a_sidecar_may_restart_where_other_init_containers_may_not() -> None:
    def inits(state: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"name": "setup", "state": state}, {"name": "sidecar", "state": state}]

    old = pod("Never", initContainerStatuses=inits(TERMINATED_OK))
    assert errors(pod("Never", initContainerStatuses=inits(RUNNING)), old) == [
        "status.initContainerStatuses[0].state: Forbidden: may not be transitioned to"
        " non-terminated state"
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}, []),
        (
            {"podIPs": [{"ip": "not-an-ip"}]},
            [
                'status.podIPs[0]: Invalid value: "not-an-ip": must be a valid IP address,'
                " (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ],
        ),
        (
            {"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]},
            [
                'status.podIPs: Invalid value: [{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}]: may specify'
                " no more than one IP for each IP family"
            ],
        ),
        (
            {"hostIP": "10.1.1.1", "hostIPs": [{"ip": "10.1.1.2"}]},
            ['status.hostIPs[0].ip: Invalid value: "10.1.1.2": must be equal to `hostIP`'],
        ),
        (
            {"nominatedNodeName": "Bad_Node"},
            [
                'status.nominatedNodeName: Invalid value: "Bad_Node": a lowercase RFC 1123'
                " subdomain must consist of lower case alphanumeric characters, '-' or '.', and"
                " must start and end with an alphanumeric character (e.g. 'example.com', regex"
                " used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                "[a-z0-9])?)*')"
            ],
        ),
    ],
    ids=["dual stack", "not an IP", "two of a family", "hostIP first", "nominated node"],
)
def test_addresses_and_the_nominated_node(status: dict[str, Any], expected: list[str]) -> None:
    assert errors(pod(**status), pod()) == expected


def test_an_address_already_stored_may_stay_as_it_is() -> None:
    stored = pod(podIPs=[{"ip": "garbage"}])  # written before the rule, or by another server
    assert errors(pod(podIPs=[{"ip": "garbage"}], phase="Running"), stored) == []


def test_the_mirror_pod_annotation_is_never_added_changed_or_removed() -> None:
    mirror = pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    path = "metadata.annotations[kubernetes.io/config.mirror]"
    assert errors(mirror, pod()) == [f"{path}: Forbidden: may not add mirror pod annotation"]
    assert errors(pod(), mirror) == [
        f"{path}: Forbidden: may not remove or update mirror pod annotation"
    ]
    assert errors(mirror, mirror) == []
