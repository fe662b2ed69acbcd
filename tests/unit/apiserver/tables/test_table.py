"""The Table envelope: metadata, rows' objects, and resources without a printer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pynetes.api.errors import ApiError
from pynetes.apiserver.tables import table_for

from .support import NOW, ago, headers, meta

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": meta(
        "settings",
        ago(minutes=3),
        namespace="default",
        uid="6c1d",
        resourceVersion="42",
        labels={"app": "web"},
    ),
    "data": {"a": "1"},
}


def test_list_table_carries_the_list_metadata() -> None:
    table = table_for(
        "",
        "configmaps",
        [CONFIGMAP],
        now=NOW,
        list_metadata={"resourceVersion": "57", "continue": "abc", "remainingItemCount": 3},
    )
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {
        "resourceVersion": "57",
        "continue": "abc",
        "remainingItemCount": 3,
    }
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]


def test_empty_list_has_columns_and_no_rows() -> None:
    table = table_for("", "configmaps", [], now=NOW, list_metadata={"resourceVersion": "57"})
    assert table["metadata"] == {"resourceVersion": "57"}
    assert table["rows"] == []
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]


def test_single_object_table_carries_its_resource_version() -> None:
    # A GET or a watch event: upstream's convertors copy the object's resourceVersion.
    assert table_for("", "configmaps", [CONFIGMAP], now=NOW)["metadata"] == {
        "resourceVersion": "42"
    }


def test_rows_carry_partial_object_metadata_by_default() -> None:
    row = table_for("", "configmaps", [CONFIGMAP], now=NOW)["rows"][0]
    assert row == {
        "cells": ["settings", 1, "3m"],
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": CONFIGMAP["metadata"],
        },
    }


def test_include_object_returns_the_whole_object() -> None:
    # kubectl get --sort-by asks for includeObject=Object.
    row = table_for("", "configmaps", [CONFIGMAP], now=NOW, include_object="Object")["rows"][0]
    assert row["object"] == CONFIGMAP


def test_include_none_leaves_the_object_null() -> None:
    row = table_for("", "configmaps", [CONFIGMAP], now=NOW, include_object="None")["rows"][0]
    assert row == {"cells": ["settings", 1, "3m"], "object": None}


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as raised:
        table_for("", "configmaps", [CONFIGMAP], now=NOW, include_object="Everything")
    assert raised.value.code == 400
    assert raised.value.message == 'unrecognized includeObject value: "Everything"'


def test_inputs_are_not_mutated() -> None:
    pod: dict[str, Any] = {
        "metadata": meta("p", ago(minutes=1), deletionTimestamp=ago(seconds=1)),
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Succeeded"},
    }
    before = copy.deepcopy(pod)
    table_for("", "pods", [pod], now=NOW, include_object="Object")
    assert pod == before


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ],
)
def test_resources_without_a_printer_show_name_and_creation_date(group: str, resource: str) -> None:
    # rest.NewDefaultTableConvertor: the creation time as an RFC 3339 date, not an age.
    obj = {"metadata": meta("thing", "2024-08-12T08:30:00Z")}
    table = table_for(group, resource, [obj], now=NOW)
    assert headers(group, resource) == [("Name", 0), ("Created At", 0)]
    assert [(c["type"], c["format"]) for c in table["columnDefinitions"]] == [
        ("string", "name"),
        ("date", ""),
    ]
    assert table["rows"][0]["cells"] == ["thing", "2024-08-12T08:30:00Z"]


def test_every_column_definition_has_upstream_s_keys() -> None:
    definition = table_for("", "pods", [], now=NOW, list_metadata={})["columnDefinitions"][0]
    assert list(definition) == ["name", "type", "format", "description", "priority"]
    assert definition["description"].startswith("Name must be unique within a namespace.")
