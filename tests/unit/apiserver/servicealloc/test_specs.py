"""upstream's Service strategy rules for allocated fields: normalize, drop on type change, patch."""

from __future__ import annotations

from pynetes.apiserver.servicealloc.specs import (
    drop_type_dependent_fields,
    normalize_cluster_ips,
    patch_allocated_values,
)

NODE_PORT = {
    "type": "NodePort",
    "clusterIP": "10.96.0.5",
    "clusterIPs": ["10.96.0.5"],
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "externalTrafficPolicy": "Cluster",
    "ports": [{"name": "http", "port": 80, "nodePort": 30080}],
}


def copy(spec: dict) -> dict:
    return {**spec, "ports": [dict(port) for port in spec["ports"]]}


def test_an_old_client_setting_only_clusterip_gets_clusterips() -> None:
    spec = {"clusterIP": "10.96.0.5"}
    normalize_cluster_ips(spec, None)
    assert spec["clusterIPs"] == ["10.96.0.5"]


def test_a_change_of_the_plural_field_moves_the_singular_one() -> None:
    spec = {**NODE_PORT, "clusterIPs": ["10.96.0.6"]}
    normalize_cluster_ips(spec, NODE_PORT)
    assert spec["clusterIP"] == "10.96.0.6"


def test_a_move_to_cluster_ip_drops_the_node_ports_it_carried_along() -> None:
    new = {**copy(NODE_PORT), "type": "ClusterIP"}
    drop_type_dependent_fields(new, NODE_PORT)
    assert "nodePort" not in new["ports"][0] and "externalTrafficPolicy" not in new
    assert new["clusterIP"] == "10.96.0.5"


def test_a_move_to_external_name_drops_the_cluster_ips() -> None:
    new = {**copy(NODE_PORT), "type": "ExternalName", "externalName": "example.com"}
    drop_type_dependent_fields(new, NODE_PORT)
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(new)


def test_a_manifest_without_allocated_values_keeps_them() -> None:
    new = {"type": "NodePort", "ports": [{"name": "http", "port": 8080}]}
    patch_allocated_values(new, NODE_PORT)
    assert new["clusterIPs"] == ["10.96.0.5"] and new["ports"][0]["nodePort"] == 30080


def test_a_node_port_another_port_now_uses_is_not_patched_in() -> None:
    new = {
        "type": "NodePort",
        "ports": [{"name": "http", "port": 80}, {"name": "x", "port": 81, "nodePort": 30080}],
    }
    patch_allocated_values(new, NODE_PORT)
    assert "nodePort" not in new["ports"][0]
