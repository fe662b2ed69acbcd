"""What the endpoint controller computes for a Service: subsets, truncation, trigger times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynetes.client.cache.indexer import Indexer
from pynetes.client.cache.lister import Lister
from pynetes.controllermanager.common.endpoints import (
    TriggerTimeTracker,
    find_port,
    services_to_update_on_pod_change,
)
from pynetes.controllermanager.controllers.endpoints import (
    MAX_CAPACITY,
    desired_labels,
    desired_subsets,
    truncate,
)

Object = dict[str, Any]


def make_pod(
    name: str,
    ip: str | None,
    *,
    ready: bool = True,
    ports: dict[str, int] | None = None,
    since: str = "2026-01-01T00:00:00Z",
    labels: dict[str, str] | None = None,
    **status: Any,
) -> Object:
    container_ports = [
        {"name": port_name, "containerPort": number, "protocol": "TCP"}
        for port_name, number in (ports or {}).items()
    ]
    pod_status: Object = {
        "phase": "Running",
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": since,
            }
        ],
        **status,
    }
    if ip:
        pod_status["podIP"] = ip
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
            "resourceVersion": "1",
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "ports": container_ports}]},
        "status": pod_status,
    }


def make_service(*ports: Object, **spec: Any) -> Object:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "svc",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "ports": list(ports),
            **spec,
        },
    }


def service_port(name: str, target: int | str) -> Object:
    return {"name": name, "port": 80, "protocol": "TCP", "targetPort": target}


def ips(subset: Object, field: str = "addresses") -> list[str]:
    return [address["ip"] for address in subset.get(field) or []]


def test_ports_offered_by_the_same_pods_share_a_subset() -> None:
    service = make_service(service_port("http", "http"), service_port("metrics", 9100))
    pods = [
        make_pod("a", "10.0.0.1", ports={"http": 8080}),
        make_pod("b", "10.0.0.2", ports={"http": 8080}, ready=False),
        make_pod("c", "10.0.0.3"),  # no http port: only the numeric one
    ]
    subsets = desired_subsets(service, pods)
    summary = [
        (ips(subset), ips(subset, "notReadyAddresses"), [p["port"] for p in subset["ports"]])
        for subset in subsets
    ]
    assert summary == [
        (["10.0.0.1"], ["10.0.0.2"], [8080]),
        (["10.0.0.1", "10.0.0.3"], ["10.0.0.2"], [9100]),
    ]


def test_pods_without_an_ip_finished_or_terminating_are_left_out() -> None:
    going = make_pod("going", "10.0.0.4")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pods = [
        make_pod("pending", None),
        make_pod("done", "10.0.0.2", phase="Succeeded"),
        going,
        make_pod("ok", "10.0.0.1", ready=False),
    ]
    [subset] = desired_subsets(make_service(service_port("", 80)), pods)
    assert ips(subset) == [] and ips(subset, "notReadyAddresses") == ["10.0.0.1"]
    # publishNotReadyAddresses: everyone with an IP who has not finished, as ready
    tolerant = make_service(service_port("", 80), publishNotReadyAddresses=True)
    [subset] = desired_subsets(tolerant, pods)
    assert ips(subset) == ["10.0.0.1", "10.0.0.4"]


def test_a_headless_service_without_ports_lists_addresses_alone() -> None:
    headless = make_service(clusterIP="None")
    [subset] = desired_subsets(headless, [make_pod("a", "10.0.0.1")])
    assert "ports" not in subset and ips(subset) == ["10.0.0.1"]
    assert desired_labels(headless) == {"service.kubernetes.io/headless": ""}
    # a service with a cluster IP and no ports has no endpoints
    assert desired_subsets(make_service(), [make_pod("a", "10.0.0.1")]) == []


def test_a_hostname_in_the_services_subdomain_is_published() -> None:
    pod = make_pod("a", "10.0.0.1")
    pod["spec"] |= {"hostname": "a", "subdomain": "web"}
    [subset] = desired_subsets(make_service(clusterIP="None"), [pod])
    assert subset["addresses"][0]["hostname"] == "a"


def addresses(ready: int, not_ready: int, prefix: str) -> Object:
    subset: Object = {"ports": [{"port": 80, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [{"ip": f"{prefix}.{i}"} for i in range(ready)]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": f"{prefix}.n{i}"} for i in range(not_ready)]
    return subset


def counts(subsets: list[Object]) -> list[tuple[int, int]]:
    return [(len(s.get("addresses") or []), len(s.get("notReadyAddresses") or [])) for s in subsets]


def test_truncation_drops_not_ready_addresses_first_in_proportion() -> None:
    assert truncate([addresses(500, 500, "a")]) is None
    cut = truncate([addresses(300, 600, "a"), addresses(300, 200, "b")])
    assert cut is not None and counts(cut) == [(300, 300), (300, 100)]


def test_truncation_of_ready_addresses_drops_every_not_ready_one() -> None:
    cut = truncate([addresses(900, 10, "a"), addresses(300, 0, "b")])
    assert cut is not None and counts(cut) == [(750, 0), (250, 0)]
    assert sum(ready for ready, _ in counts(cut)) == MAX_CAPACITY


def test_named_ports_match_the_protocol_and_sidecars() -> None:
    pod = make_pod("a", "10.0.0.1", ports={"dns": 53})
    pod["spec"]["initContainers"] = [
        {
            "name": "proxy",
            "restartPolicy": "Always",
            "ports": [{"name": "proxy", "containerPort": 15001}],
        },
        {"name": "setup", "ports": [{"name": "setup", "containerPort": 1}]},
    ]
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) == 53
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) is None
    assert find_port(pod, {"port": 1, "targetPort": "proxy", "protocol": "TCP"}) == 15001
    assert find_port(pod, {"port": 1, "targetPort": "setup", "protocol": "TCP"}) is None
    assert find_port(pod, {"port": 80, "targetPort": 8080, "protocol": "TCP"}) == 8080


def test_the_trigger_time_is_the_earliest_change_since_the_last_sync() -> None:
    tracker = TriggerTimeTracker()
    service = make_service()
    first = [make_pod("a", "10.0.0.1", since="2026-01-01T00:00:05Z")]
    assert tracker.compute(service, first) == datetime(2026, 1, 1, tzinfo=UTC)  # created
    assert tracker.compute(service, first) is None  # nothing moved
    later = [
        make_pod("a", "10.0.0.1", since="2026-01-01T00:00:09Z"),
        make_pod("b", "10.0.0.2", since="2026-01-01T00:00:07Z"),
    ]
    assert tracker.compute(service, later) == datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    tracker.forget("default/web")
    assert tracker.compute(service, later) == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_pod_update_concerns_the_services_of_its_old_and_new_labels() -> None:
    store = Indexer()
    for name, selector in (("web", {"app": "web"}), ("api", {"app": "api"}), ("manual", None)):
        spec = {"selector": selector} if selector else {}
        store.upsert({"metadata": {"name": name, "namespace": "default"}, "spec": spec})
    services = Lister(store)
    old = make_pod("a", "10.0.0.1")
    relabelled = make_pod("a", "10.0.0.1", labels={"app": "api"})
    assert services_to_update_on_pod_change(services, old, relabelled) == {
        "default/web",
        "default/api",
    }
    annotated = make_pod("a", "10.0.0.1")
    annotated["metadata"]["annotations"] = {"note": "x"}
    assert services_to_update_on_pod_change(services, old, annotated) == set()
    unready = make_pod("a", "10.0.0.1", ready=False)
    assert services_to_update_on_pod_change(services, old, unready) == {"default/web"}
