"""Custom resources: the CRD version's additionalPrinterColumns, as apiextensions prints them."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.apiserver.tables import jsonpath, table_for
from pynetes.apiserver.tables.gotext import text

from .support import NOW, ago, meta

WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": meta("w1", ago(hours=3, minutes=4), labels={"app.kubernetes.io/name": "shop"}),
    "spec": {
        "replicas": 3,
        "ratio": 0.25,
        "paused": False,
        "owner": "team-a",
        "selector": {"matchLabels": {"b": "2", "a": "1"}},
        "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 9000}],
    },
    "status": {
        "conditions": [
            {"type": "Synced", "status": "False"},
            {"type": "Ready", "status": "True", "lastTransitionTime": ago(minutes=5, seconds=3)},
        ],
        "expires": "next tuesday",
    },
}


def column(name: str, kind: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, **extra}


def custom_table(columns: list[dict[str, Any]], obj: dict[str, Any] = WIDGET) -> dict[str, Any]:
    return table_for("example.com", "widgets", [obj], now=NOW, printer_columns=columns)


def test_crd_without_columns_shows_name_and_age() -> None:
    table = custom_table([])
    assert [(c["name"], c["type"], c["format"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", "name"),
        ("Age", "date", ""),
    ]
    assert table["rows"][0]["cells"] == ["w1", "3h4m"]


def test_column_definitions_keep_the_crd_s_type_format_priority_and_description() -> None:
    table = custom_table(
        [
            column("Replicas", "integer", ".spec.replicas", description="Desired replicas"),
            column("Owner", "string", ".spec.owner", priority=1, format="byte"),
        ]
    )
    assert table["columnDefinitions"][1:] == [
        {
            "name": "Replicas",
            "type": "integer",
            "format": "",
            "description": "Desired replicas",
            "priority": 0,
        },
        {
            "name": "Owner",
            "type": "string",
            "format": "byte",
            "description": "Custom resource definition column (in JSONPath format): .spec.owner",
            "priority": 1,
        },
    ]


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("integer", ".spec.replicas", 3),
        ("integer", ".spec.ratio", 0),  # floats are truncated
        ("integer", ".spec.owner", None),  # wrong type: null cell
        ("number", ".spec.replicas", 3.0),
        ("number", ".spec.ratio", 0.25),
        ("boolean", ".spec.paused", False),
        ("boolean", ".spec.owner", None),
        ("string", ".spec.owner", "team-a"),
        ("string", ".spec.replicas", "3"),
        ("string", ".spec.paused", "false"),
        # Maps are printed as Go's json.Marshal: sorted keys, no spaces.
        ("string", ".spec.selector", '{"matchLabels":{"a":"1","b":"2"}}'),
        ("string", '.status.conditions[?(@.type=="Ready")].status', "True"),
        ("string", ".status.conditions[?(@.type=='Gone')].status", None),
        # Only the first of several results is printed.
        ("string", ".spec.ports[*].name", "http"),
        ("string", ".spec.ports[-1].port", "9000"),
        ("string", ".spec.ports[5].port", None),  # out of range: null
        ("string", ".metadata.labels.app\\.kubernetes\\.io/name", "shop"),
        ("string", ".metadata.labels['app.kubernetes.io/name']", "shop"),
        ("string", ".spec.missing.deeper", None),
        ("date", ".metadata.creationTimestamp", "3h4m"),
        ("date", '.status.conditions[?(@.type=="Ready")].lastTransitionTime', "5m3s"),
        ("date", ".status.expires", "<invalid>"),
        ("date", ".spec.replicas", None),
    ],
)
def test_cells(kind: str, path: str, expected: Any) -> None:
    cells = custom_table([column("C", kind, path)])["rows"][0]["cells"]
    assert cells == ["w1", expected]
    assert type(cells[1]) is type(expected)


def test_an_unparsable_column_drops_it_and_the_columns_after_it() -> None:
    table = custom_table(
        [
            column("Replicas", "integer", ".spec.replicas"),
            column("Everything", "string", "..owner"),
            column("Owner", "string", ".spec.owner"),
        ]
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Replicas"]
    assert table["rows"][0]["cells"] == ["w1", 3]


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        (".a.b", {"a": {"b": 1}}, [1]),
        (".a[*].b", {"a": [{"b": 1}, {"c": 2}, {"b": 3}]}, [1, 3]),
        (".a.*", {"a": {"y": 2, "x": 1}}, [1, 2]),
        (".a[?(@.n > 1)].n", {"a": [{"n": 1}, {"n": 2}, {"n": 3}]}, [2, 3]),
        (".a[?(@.n)].n", {"a": [{"n": 1}, {}, {"n": 3}]}, [1, 3]),
        (".", {"a": 1}, [{"a": 1}]),
    ],
)
def test_jsonpath_find(path: str, document: Any, expected: list[Any]) -> None:
    assert jsonpath.find(jsonpath.parse(path), document) == expected


@pytest.mark.parametrize(
    ("path", "document"),
    [
        (".a[0]", {"a": {"not": "a list"}}),
        # client-go cannot compare a string with a number.
        (".a[?(@.n == 1)]", {"a": [{"n": "1"}]}),
    ],
)
def test_jsonpath_errors_fail_the_whole_path(path: str, document: Any) -> None:
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.find(jsonpath.parse(path), document)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (123456.0, "123456"),
        (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        ({"z": [1.0, 1e21, 1e-7], "a": "<&>"}, '{"a":"\\u003c\\u0026\\u003e","z":[1,1e+21,1e-7]}'),
    ],
)
def test_values_print_as_go_prints_them(value: Any, expected: str) -> None:
    assert text(value) == expected
