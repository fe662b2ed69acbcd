"""Hollow node specs: generation, labels, capacity, and the CLI's label and taint lists."""

from __future__ import annotations

import pytest

from pynetes.hollow.spec import NodeSpec, Taint, generate_node_specs, parse_labels, parse_taints


def test_generated_specs_are_named_by_prefix_and_take_zones_round_robin() -> None:
    specs = generate_node_specs(5, name_prefix="n-", zones=["a", "b"], cpu="8")
    assert [spec.name for spec in specs] == ["n-0", "n-1", "n-2", "n-3", "n-4"]
    assert [spec.zone for spec in specs] == ["a", "b", "a", "b", "a"]
    assert {spec.cpu for spec in specs} == {"8"}


def test_without_zones_no_zone_label() -> None:
    (spec,) = generate_node_specs(1)
    assert spec.zone is None
    assert "topology.kubernetes.io/zone" not in spec.node_labels()


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_node_specs(-1)


def test_standard_labels_then_the_given_ones() -> None:
    spec = NodeSpec("n", zone="z", arch="arm64", labels={"tier": "gpu", "kubernetes.io/os": "x"})
    assert spec.node_labels() == {
        "beta.kubernetes.io/arch": "arm64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "arm64",
        "kubernetes.io/hostname": "n",
        "kubernetes.io/os": "x",
        "topology.kubernetes.io/zone": "z",
        "tier": "gpu",
    }


def test_capacity_is_canonical_and_includes_extended_resources() -> None:
    spec = NodeSpec("n", cpu="4000m", memory="16Gi", extended={"example.com/gpu": "2"})
    assert spec.capacity() == {
        "cpu": "4",
        "memory": "16Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "example.com/gpu": "2",
    }


def test_labels_parse_and_bad_ones_are_refused() -> None:
    assert parse_labels("a=b, example.com/c=d,") == {"a": "b", "example.com/c": "d"}
    assert parse_labels("") == {}
    for bad in ("novalue", "a=b c", "-a=b"):
        with pytest.raises(ValueError):
            parse_labels(bad)


def test_taints_parse_as_kubectl_taint_writes_them() -> None:
    assert parse_taints("gpu=yes:NoSchedule,dedicated:NoExecute") == [
        Taint("gpu", "NoSchedule", "yes"),
        Taint("dedicated", "NoExecute"),
    ]
    assert Taint("dedicated", "NoExecute").to_dict() == {"key": "dedicated", "effect": "NoExecute"}
    for bad in ("gpu=yes", "gpu=yes:Never", ":NoSchedule"):
        with pytest.raises(ValueError):
            parse_taints(bad)
