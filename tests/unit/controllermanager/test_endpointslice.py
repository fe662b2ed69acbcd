"""How the endpointslice controller plans its writes, and when it trusts its cache."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from pynetes.controllermanager import options
from pynetes.controllermanager.controllers.endpointslice import (
    Desired,
    PortGroup,
    SliceTracker,
    address_types,
    desired_endpoints,
    endpoint_key,
    new_slice,
    plan_address_type,
    ports_key,
)

Object = dict[str, Any]
PORTS = [{"name": "", "port": 80, "protocol": "TCP"}]
LIMIT = 4


SERVICE: Object = {
    "metadata": {"name": "web", "namespace": "default", "uid": "svc", "labels": {"team": "a"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]},
}


def endpoint(name: str, ready: bool = True) -> Object:
    return {
        "addresses": [f"10.0.0.{name}"],
        "conditions": {"ready": ready, "serving": ready, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": name},
    }


def existing(name: str, *names: str, ports: list[Object] = PORTS) -> Object:
    made = new_slice(SERVICE, ports, "IPv4")
    made["metadata"] |= {"name": name, "uid": name, "resourceVersion": "1"}
    made["endpoints"] = [endpoint(n) for n in names]
    return made


def wanting(*names: str, ports: list[Object] = PORTS) -> Desired:
    group = PortGroup(ports, {endpoint_key(endpoint(n)): endpoint(n) for n in names})
    return Desired({ports_key(ports): group}, [])


def plan(current: list[Object], desired: Desired) -> tuple[list, list, list]:
    """The plan as (created, updated, deleted), each slice as (name, its endpoint names)."""
    made = plan_address_type(SERVICE, current, desired, "IPv4", LIMIT)

    def summary(slices: list[Object]) -> list[tuple[str | None, list[str]]]:
        return [
            (s["metadata"].get("name"), [e["targetRef"]["name"] for e in s.get("endpoints") or []])
            for s in slices
        ]

    return summary(made.create), summary(made.update), summary(made.delete)


def test_a_service_without_endpoints_gets_one_placeholder_and_keeps_it() -> None:
    created, updated, deleted = plan([], Desired({}, []))
    assert (created, updated, deleted) == ([(None, [])], [], [])
    placeholder = existing("web-p", ports=[])
    assert plan([placeholder], Desired({}, [])) == ([], [], [])


def test_new_endpoints_are_written_into_the_placeholder() -> None:
    placeholder = existing("web-p", ports=[])
    assert plan([placeholder], wanting("1", "2")) == ([], [("web-p", ["1", "2"])], [])


def test_new_slices_hold_at_most_the_limit() -> None:
    created, _, _ = plan([], wanting(*"123456789"))
    assert [len(names) for _, names in created] == [4, 4, 1]


def test_removed_endpoints_leave_their_slice_and_an_emptied_slice_goes() -> None:
    current = [existing("s1", "1", "2"), existing("s2", "3")]
    assert plan(current, wanting("1")) == ([], [("s1", ["1"])], [("s2", ["3"])])


def test_unchanged_slices_are_not_written() -> None:
    current = [existing("s1", "1", "2"), existing("s2", "3")]
    assert plan(current, wanting("1", "2", "3")) == ([], [], [])


def test_a_changed_endpoint_is_updated_where_it_is() -> None:
    current = [existing("s1", "1", "2")]
    desired = wanting("1", "2")
    desired.groups[ports_key(PORTS)].endpoints[endpoint_key(endpoint("2"))] = endpoint("2", False)
    _, [(name, names)], _ = plan(current, desired)
    assert (name, names) == ("s1", ["1", "2"])


def test_new_endpoints_fill_slices_being_updated_fullest_first() -> None:
    current = [existing("s1", "1", "x"), existing("s2", "2", "3", "4", "y")]
    _, updated, _ = plan(current, wanting("1", "2", "3", "4", "5", "6"))
    assert sorted(updated) == [("s1", ["1", "6"]), ("s2", ["2", "3", "4", "5"])]


def test_leftovers_go_to_the_unchanged_slice_they_fill_best() -> None:
    current = [existing("s1", "1"), existing("s2", "2", "3")]
    assert plan(current, wanting("1", "2", "3", "4", "5")) == (
        [],
        [("s2", ["2", "3", "4", "5"])],
        [],
    )


def test_an_endpoint_listed_twice_is_kept_once() -> None:
    current = [existing("s1", "1", "2"), existing("s2", "2", "3")]
    assert plan(current, wanting("1", "2", "3")) == ([], [("s2", ["3"])], [])


def test_a_slice_to_delete_is_rewritten_rather_than_a_new_one_made() -> None:
    old_ports = [{"name": "", "port": 8080, "protocol": "TCP"}]
    current = [existing("old", "1", ports=old_ports)]
    made = plan_address_type(SERVICE, current, wanting("1"), "IPv4", LIMIT)
    assert made.create == [] and made.delete == []
    [rewritten] = made.update
    assert rewritten["metadata"]["name"] == "old" and rewritten["ports"] == PORTS


def test_slices_of_a_former_service_of_the_same_name_go() -> None:
    stranger = existing("s1", "1")
    stranger["metadata"]["ownerReferences"][0]["uid"] = "older-service"
    created, updated, deleted = plan([stranger], wanting("1"))
    assert created == [(None, ["1"])] and updated == [] and deleted == [("s1", ["1"])]


def test_pods_on_unknown_nodes_are_left_out_and_reported() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "default", "uid": "p"},
        "spec": {"nodeName": "gone", "containers": []},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }
    desired = desired_endpoints(SERVICE, [pod], lambda _name: None, "IPv4")
    assert all(not group.endpoints for group in desired.groups.values())
    assert desired.problems == ["skipping Pod p for Service default/web: Node gone Not Found"]
    tolerant = {**SERVICE, "spec": {**SERVICE["spec"], "publishNotReadyAddresses": True}}
    desired = desired_endpoints(tolerant, [pod], lambda _name: None, "IPv4")
    [group] = desired.groups.values()
    [published] = group.endpoints.values()
    assert published["conditions"] == {"ready": True, "serving": False, "terminating": False}


def with_version(slice_: Object, version: int) -> Object:
    return {**slice_, "metadata": {**slice_["metadata"], "resourceVersion": str(version)}}


def test_a_cache_without_our_last_write_is_stale_until_the_event_comes() -> None:
    tracker = SliceTracker()
    written = with_version(existing("s1", "1"), 5)
    tracker.wrote("default/web", written)
    assert tracker.stale("default/web", [])
    assert tracker.stale("default/web", [with_version(written, 4)])
    assert tracker.observed("default/web", written, deleted=False)  # our own: no sync needed
    assert tracker.caught_up("default/web")
    assert not tracker.stale("default/web", [written])
    assert not tracker.observed("default/web", with_version(written, 6), deleted=False)


def test_a_deletion_is_awaited_too() -> None:
    tracker = SliceTracker()
    doomed = existing("s1", "1")
    tracker.deleting("default/web", doomed)
    assert tracker.stale("default/web", [doomed])
    assert not tracker.stale("default/web", [])  # the cache shows it gone: forgotten
    tracker.deleting("default/web", doomed)
    assert tracker.observed("default/web", doomed, deleted=True)
    assert tracker.caught_up("default/web")


def test_max_endpoints_per_slice_is_bounded_as_upstream() -> None:
    assert options.defaults().max_endpoints_per_slice == 100
    parser = argparse.ArgumentParser(exit_on_error=False)
    options.add_arguments(parser)
    assert parser.parse_args(["--max-endpoints-per-slice", "1000"]).max_endpoints_per_slice == 1000
    with pytest.raises(argparse.ArgumentError, match="between 1 and 1000"):
        parser.parse_args(["--max-endpoints-per-slice", "1001"])


def test_a_dual_stack_service_gets_slices_of_each_family() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "default", "uid": "p"},
        "spec": {"nodeName": "n", "containers": []},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]},
    }
    dual = {**SERVICE, "spec": {**SERVICE["spec"], "ipFamilies": ["IPv6", "IPv4"]}}
    assert address_types(dual) == ["IPv6", "IPv4"]
    assert address_types(SERVICE) == ["IPv4"]
    node = {"metadata": {"name": "n", "labels": {"topology.kubernetes.io/zone": "z"}}}
    for family, address in (("IPv4", "10.0.0.1"), ("IPv6", "fd00::1")):
        [group] = desired_endpoints(dual, [pod], lambda _name: node, family).groups.values()
        [only] = group.endpoints.values()
        assert only["addresses"] == [address] and only["zone"] == "z"
