"""Field sets, their FieldsV1 spelling, and the structural walks under apply.

Cases marked "upstream" restate facts of sigs.k8s.io/structured-merge-diff
v4.4.1 (the version Kubernetes 1.31 vendors): its serialization rules and
its merge test table.
"""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.api import schema
from pynetes.api.fieldmanager.compare import compare
from pynetes.api.fieldmanager.fields import to_field_set
from pynetes.api.fieldmanager.fieldset import FieldSet, path_string
from pynetes.api.fieldmanager.merge import merge
from pynetes.api.fieldmanager.typed import ABSENT, SchemaError

POD_SPEC = schema.definition("io.k8s.api.core.v1.PodSpec")
OBJECT_META = schema.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
SERVICE_SPEC = schema.definition("io.k8s.api.core.v1.ServiceSpec")
CONTROLLER_REVISION = schema.definition("io.k8s.api.apps.v1.ControllerRevision")

STRING = {"type": "string"}


# --- FieldsV1 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "canonical"),
    [
        pytest.param(
            {"f:b": {}, "f:a": {".": {}, "f:c": {}}},
            {"f:a": {".": {}, "f:c": {}}, "f:b": {}},
            id="fields-sorted-and-self-first",
        ),
        pytest.param(
            {"i:1": {}, 'v:"x"': {}, 'k:{"b":1,"a":2}': {}, "f:z": {}},
            {"f:z": {}, 'k:{"a":2,"b":1}': {}, 'v:"x"': {}, "i:1": {}},
            id="fields-keys-values-indexes",
        ),
        pytest.param(
            {'k:{"port":10}': {}, 'k:{"port":9}': {}, 'k:{"port":"a"}': {}},
            {'k:{"port":9}': {}, 'k:{"port":10}': {}, 'k:{"port":"a"}': {}},
            id="key-values-by-type-then-value",
        ),
        pytest.param({"f:a": {".": {}}}, {"f:a": {}}, id="self-alone-is-a-member"),
        pytest.param({"f:a": {"x:unknown": {}}}, {"f:a": {}}, id="unknown-kinds-skipped"),
        pytest.param({'v: "spaced"': {}}, {'v:"spaced"': {}}, id="values-respelled"),
        pytest.param(
            {'k:{"name":"<a&b>"}': {}},
            {'k:{"name":"\\u003ca\\u0026b\\u003e"}': {}},
            id="go-escapes",
        ),
    ],
)
def test_fields_v1_is_read_and_written_canonically(document: Any, canonical: Any) -> None:
    written = FieldSet.from_fields_v1(document).to_fields_v1()
    assert written == canonical
    assert list(written) == list(canonical)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"f": {}}, "key must be 2 characters long"),
        ({"fx": {}}, "missing colon"),
        ({"k:[1]": {}}, "not an object"),
        ({"v:{": {}}, "invalid path element"),
        ({"i:one": {}}, "invalid index"),
        ({"f:a": "leaf"}, "expected an object"),
    ],
)
def test_malformed_fields_v1(document: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FieldSet.from_fields_v1(document)


def test_paths_and_their_printed_form() -> None:
    fields = FieldSet.from_fields_v1(
        {
            "f:spec": {
                "f:replicas": {},
                "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
                "f:finalizers": {'v:"a"': {}},
            }
        }
    )
    assert [path_string(path) for path in fields.paths()] == [
        ".spec.replicas",
        '.spec.finalizers[="a"]',
        '.spec.ports[port=80,protocol="TCP"]',
        '.spec.ports[port=80,protocol="TCP"].port',
    ]


@pytest.mark.parametrize(
    ("left", "right", "operation", "result"),
    [
        ({"f:a": {}, "f:b": {}}, {"f:b": {}}, "difference", {"f:a": {}}),
        # A parent in the other set keeps this set's children (upstream's Difference).
        ({"f:a": {"f:x": {}}}, {"f:a": {}}, "difference", {"f:a": {"f:x": {}}}),
        ({"f:a": {"f:x": {}}}, {"f:a": {}}, "recursive_difference", {}),
        (
            {"f:a": {"f:x": {}, "f:y": {}}},
            {"f:a": {"f:y": {}}},
            "intersection",
            {"f:a": {"f:y": {}}},
        ),
        ({"f:a": {}}, {"f:a": {"f:x": {}}}, "union", {"f:a": {".": {}, "f:x": {}}}),
    ],
)
def test_set_operations(left: Any, right: Any, operation: str, result: Any) -> None:
    combined = getattr(FieldSet.from_fields_v1(left), operation)(FieldSet.from_fields_v1(right))
    assert combined.to_fields_v1() == result


# --- which fields an object sets -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "node", "expected"),
    [
        pytest.param(
            {"finalizers": ["a", "b"]},
            OBJECT_META,
            {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}},
            id="set-items-by-value",
        ),
        pytest.param(
            {"tolerations": [{"key": "k"}]},
            POD_SPEC,
            {"f:tolerations": {}},
            id="atomic-list-is-a-leaf",
        ),
        pytest.param(
            {"nodeSelector": {"disk": "ssd"}, "securityContext": {}},
            POD_SPEC,
            {"f:nodeSelector": {}, "f:securityContext": {}},
            id="atomic-map-and-empty-struct-are-leaves",
        ),
        pytest.param(
            {"activeDeadlineSeconds": None},
            POD_SPEC,
            {"f:activeDeadlineSeconds": {}},
            id="null-is-set",
        ),
        pytest.param(
            {"imagePullSecrets": [{}]},
            POD_SPEC,
            {"f:imagePullSecrets": {'k:{"name":""}': {}}},
            id="key-default-of-local-object-reference",
        ),
        pytest.param(
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]},
            SERVICE_SPEC,
            {
                "f:ports": {
                    'k:{"port":53,"protocol":"TCP"}': {".": {}, "f:port": {}},
                    'k:{"port":53,"protocol":"UDP"}': {".": {}, "f:port": {}, "f:protocol": {}},
                }
            },
            id="two-key-fields",
        ),
        pytest.param(
            {"data": {"raw": {"a": 1}}, "revision": 1},
            CONTROLLER_REVISION,
            {"f:data": {}, "f:revision": {}},
            id="raw-extension-is-a-leaf",
        ),
        pytest.param(
            {"labels": {"a": "b"}, "things": {"x": {"y": 1}}},
            {
                "type": "object",
                "properties": {
                    "labels": {"type": "object", "additionalProperties": STRING},
                    "things": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
            {"f:labels": {"f:a": {}}, "f:things": {"f:x": {".": {}, "f:y": {}}}},
            id="free-keys-holding-fields-are-owned-too",
        ),
        pytest.param(
            {"spec": {"selector": {"matchLabels": {"a": "b"}}}},
            {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "selector": {"type": "object", "x-kubernetes-map-type": "atomic"}
                        },
                    }
                },
            },
            {"f:spec": {"f:selector": {}}},
            id="atomic-map-of-a-crd",
        ),
    ],
)
def test_field_set_of_a_value(value: Any, node: Any, expected: Any) -> None:
    assert to_field_set(value, node).to_fields_v1() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"containers": [{"name": "a"}, {"name": "a"}]},
            '.containers: duplicate entries for key [name="a"]',
        ),
        (
            {"containers": ["a"]},
            ".containers: element 0: associative list with keys may not have non-map elements",
        ),
        (
            {"containers": [None]},
            ".containers: element 0: associative list with keys may not have a null element",
        ),
    ],
)
def test_unnameable_items_are_errors(value: Any, message: str) -> None:
    with pytest.raises(SchemaError) as raised:
        to_field_set(value, POD_SPEC, allow_duplicates=False)
    assert str(raised.value) == message


# --- compare ------------------------------------------------------------------------


def test_compare_adds_maps_and_items_that_appear_whole() -> None:
    change = compare(
        {"containers": [{"name": "a", "image": "x"}]},
        {"containers": [{"name": "a", "image": "y"}, {"name": "b"}], "overhead": {"cpu": "1"}},
        POD_SPEC,
    )
    assert change.added.to_fields_v1() == {
        "f:containers": {'k:{"name":"b"}': {".": {}, "f:name": {}}},
        "f:overhead": {".": {}, "f:cpu": {}},
    }
    assert change.modified.to_fields_v1() == {"f:containers": {'k:{"name":"a"}': {"f:image": {}}}}
    assert change.removed.empty()


def test_compare_tells_true_from_one() -> None:
    node = {"type": "object", "properties": {"v": {}}}
    assert compare({"v": 1}, {"v": 1.0}, node).modified.empty()
    assert not compare({"v": 1}, {"v": True}, node).modified.empty()


# --- merge: upstream's own merge table ------------------------------------------------

SETS = {
    "type": "object",
    "properties": {
        name: {"type": "array", "items": {"type": kind}, "x-kubernetes-list-type": "set"}
        for name, kind in (("setStr", "string"), ("setBool", "boolean"), ("setNumeric", "number"))
    },
}
KEYED = {
    "type": "object",
    "properties": {
        "list": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["key", "id"],
            "items": {
                "type": "object",
                "properties": {
                    "key": STRING,
                    "id": {"type": "number"},
                    "bv": {"type": "boolean"},
                    "nv": {"type": "number"},
                },
            },
        },
        "atomicList": {"type": "array", "items": STRING},
        "inner": {"type": "object", "additionalProperties": {}},
    },
}


@pytest.mark.parametrize(
    ("node", "current", "applied", "merged"),
    [
        (SETS, {"setStr": ["a", "b", "c"]}, {"setStr": []}, {"setStr": ["a", "b", "c"]}),
        (SETS, {"setStr": ["a", "b"]}, {"setStr": ["b", "a"]}, {"setStr": ["b", "a"]}),
        (
            SETS,
            {"setStr": ["a", "b", "c", "g", "f"]},
            {"setStr": ["c", "d", "e", "f"]},
            {"setStr": ["a", "b", "c", "g", "d", "e", "f"]},
        ),
        (
            SETS,
            {"setStr": ["a", "b", "c", "d"]},
            {"setStr": ["d", "e", "f", "a"]},
            {"setStr": ["b", "c", "d", "e", "f", "a"]},
        ),
        (
            SETS,
            {"setStr": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]},
            {"setStr": ["1", "b", "2", "h", "3", "e", "4", "k", "l"]},
            {
                "setStr": [
                    "a",
                    "1",
                    "b",
                    "c",
                    "d",
                    "f",
                    "g",
                    "2",
                    "h",
                    "i",
                    "j",
                    "3",
                    "e",
                    "4",
                    "k",
                    "l",
                ]
            },
        ),
        (
            SETS,
            {"setStr": ["a", "b", "c", "d", "e", "c"]},
            {"setStr": ["1", "b", "2", "e", "d"]},
            {"setStr": ["a", "1", "b", "c", "2", "e", "c", "d"]},
        ),
        (
            SETS,
            {"setStr": ["a", "a", "b", "b"]},
            {"setStr": ["b", "c", "d"]},
            {"setStr": ["a", "a", "b", "c", "d"]},
        ),
        (SETS, {"setBool": [True, False, True]}, {"setBool": [True]}, {"setBool": [True, False]}),
        (
            SETS,
            {"setNumeric": [1, 2, 3.14159, 1, 2]},
            {"setNumeric": [1, 2, 3]},
            {"setNumeric": [1, 2, 3.14159, 3]},
        ),
        (
            KEYED,
            {"list": [{"key": "a", "id": 1}, {"key": "b", "id": 2}, {"key": "c", "id": 3}]},
            {"list": [{"key": "c", "id": 3}, {"key": "a", "id": 1}]},
            {"list": [{"key": "b", "id": 2}, {"key": "c", "id": 3}, {"key": "a", "id": 1}]},
        ),
        (
            KEYED,
            {
                "list": [
                    {"key": "a", "id": 1, "bv": True},
                    {"key": "b", "id": 2},
                    {"key": "a", "id": 1, "bv": False, "nv": 2},
                ]
            },
            {
                "list": [
                    {"key": "a", "id": 1, "nv": 3},
                    {"key": "c", "id": 3},
                    {"key": "b", "id": 2},
                ]
            },
            {
                "list": [
                    {"key": "a", "id": 1, "nv": 3},
                    {"key": "c", "id": 3},
                    {"key": "b", "id": 2},
                ]
            },
        ),
        (KEYED, {"atomicList": ["a", "b", "c"]}, {"atomicList": []}, {"atomicList": []}),
        (KEYED, {"inner": {}}, {"inner": None}, {"inner": None}),
        (KEYED, {"inner": {"a": 1}}, {"inner": None}, {"inner": {"a": 1}}),
    ],
)
def test_merge_matches_upstreams_table(node: Any, current: Any, applied: Any, merged: Any) -> None:
    assert merge(current, applied, node) == merged


def test_merge_of_nothing_is_absent() -> None:
    assert merge(ABSENT, ABSENT, None) is ABSENT
