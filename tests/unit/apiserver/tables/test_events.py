"""``kubectl get events``: LAST SEEN TYPE REASON OBJECT MESSAGE, from either Event API."""

from __future__ import annotations

import pytest

from .support import ago, headers, meta, row

WIDE_NAMES = ["Subobject", "Source", "First Seen", "Count", "Name"]


def test_core_event_from_the_kubelet() -> None:
    event = {
        "metadata": meta("web-1.17c3a1b2d4e5f6a7", ago(minutes=10)),
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "web-1",
            "fieldPath": "spec.containers{web}",
        },
        "reason": "BackOff",
        "message": "Back-off restarting failed container web in pod web-1\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(minutes=2),
        "count": 7,
        "type": "Warning",
    }
    assert row("", "events", event) == [
        "2m",
        "Warning",
        "BackOff",
        "pod/web-1",
        "spec.containers{web}",
        "kubelet, node-1",
        "Back-off restarting failed container web in pod web-1",
        "10m",
        7,
        "web-1.17c3a1b2d4e5f6a7",
    ]


def test_events_api_event_with_a_series() -> None:
    # Written through events.k8s.io/v1: no deprecated timestamps, a series instead of a count.
    event = {
        "metadata": meta("web.17c", ago(minutes=30)),
        "eventTime": "2024-08-15T11:30:00.000000Z",
        "series": {"count": 12, "lastObservedTime": "2024-08-15T11:59:15.500000Z"},
        "reportingController": "k8s.io/deployment-controller",
        "reportingInstance": "kube-controller-manager-cp-1",
        "action": "Scaling",
        "reason": "ScalingReplicaSet",
        "regarding": {"kind": "Deployment", "namespace": "default", "name": "web"},
        "note": "Scaled up replica set web-7d4b9c8f5 to 3",
        "type": "Normal",
    }
    assert row("events.k8s.io", "events", event) == [
        "44s",
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "",
        "k8s.io/deployment-controller, kube-controller-manager-cp-1",
        "Scaled up replica set web-7d4b9c8f5 to 3",
        "30m",
        12,
        "web.17c",
    ]


def test_singleton_event_without_count_or_timestamps_counts_one() -> None:
    event = {
        "metadata": meta("node-1.17d", ago(minutes=3)),
        "eventTime": "2024-08-15T11:57:00.000000Z",
        "reportingComponent": "kubelet",
        "involvedObject": {"kind": "Node", "name": ""},
        "reason": "Starting",
        "message": "Starting kubelet.",
        "type": "Normal",
    }
    cells = row("", "events", event)
    # LAST SEEN falls back to FIRST SEEN, itself taken from eventTime.
    assert cells[:4] == ["3m", "Normal", "Starting", "node"]
    assert cells[5:9] == ["kubelet", "Starting kubelet.", "3m", 1]


def test_event_without_any_time_is_unknown() -> None:
    event = {"metadata": meta("x", ago(minutes=3)), "involvedObject": {}, "count": 2}
    cells = row("", "events", event)
    assert (cells[0], cells[7], cells[8]) == ("<unknown>", "<unknown>", 2)


@pytest.mark.parametrize("group", ["", "events.k8s.io"])
def test_columns(group: str) -> None:
    assert headers(group, "events") == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
