"""A create's managedFields, written in one walk (``created.py``), are the ones the
general update path (compare from the zero object, field sets, FieldsV1) writes.

Random objects are built from the field names of the kinds' schemas, so that the
walks meet structs, free maps, associative lists (unique, repeated and unnamed
items), sets, atomic lists, nulls and empty values where the schema has them.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api import schema
from pynetes.api.fieldmanager import manager
from pynetes.api.fieldmanager.zero import zero_object

NOW = "2026-01-01T00:00:00Z"
KINDS = {
    kind: schema.definition(schema.definition_name(group, "v1", kind))
    for group, kind in (("", "Pod"), ("apps", "Deployment"), ("", "ConfigMap"), ("", "Service"))
}
NAMES = [
    "metadata", "labels", "annotations", "name", "namespace", "uid", "generateName",
    "spec", "template", "selector", "matchLabels", "replicas", "containers", "image",
    "ports", "containerPort", "protocol", "env", "value", "volumes", "volumeMounts",
    "mountPath", "tolerations", "key", "finalizers", "data", "status", "ownerReferences",
    "kind", "apiVersion", "args", "resources", "limits", "cpu", "type", "x",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "a", "b", "TCP", "UDP"]),
    st.just(80.0),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(NAMES), inner, max_size=5),
    ),
    max_leaves=25,
)
objects = st.dictionaries(st.sampled_from(NAMES), values, max_size=6)


def general_path(kind: str, obj: dict[str, Any]) -> Any:
    """managedFields as an update from the zero object writes them."""
    root = manager._root_node(KINDS[kind])
    result = manager._without_managed_fields(obj)
    writer = manager._writer("kubectl", "Update", "v1", "")
    try:
        managed = manager._update(
            zero_object(root), result, {}, writer, root, NOW, manager._field_paths(())
        )
    except manager.SchemaError:
        return None
    return managed_fields(manager._with_managed_fields(result, managed))


def created_path(kind: str, obj: dict[str, Any]) -> Any:
    tracked = manager.track_update(
        None, obj, manager="kubectl", node=KINDS[kind], api_version="v1", now=NOW
    )
    return managed_fields(tracked)


def managed_fields(obj: dict[str, Any]) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("managedFields") if isinstance(metadata, dict) else None


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), obj=objects)
def test_random_objects_get_the_same_managed_fields_both_ways(
    kind: str, obj: dict[str, Any]
) -> None:
    # Compared as bytes: FieldsV1 key order is part of what clients see.
    assert orjson.dumps(created_path(kind, obj)) == orjson.dumps(general_path(kind, obj))


def test_a_defaulted_pod_gets_the_same_managed_fields_both_ways() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx",
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                    "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
                    "resources": {},
                }
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "restartPolicy": "Always",
        },
        "status": {},
    }
    created = created_path("Pod", pod)
    assert created is not None
    assert orjson.dumps(created) == orjson.dumps(general_path("Pod", pod))
    fields = created[0]["fieldsV1"]
    assert "f:name" not in fields["f:metadata"]
    assert fields["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    container = fields["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert list(container["f:ports"]) == [
        ".",
        'k:{"containerPort":53,"protocol":"UDP"}',
        'k:{"containerPort":80,"protocol":"TCP"}',
    ]
    assert container["f:env"]['k:{"name":"A"}'] == {}  # a repeated name is owned as a whole


def test_an_object_with_an_unnamed_list_item_gets_no_managed_fields() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"image": "nginx"}]}}
    assert created_path("Pod", pod) is None
    assert general_path("Pod", pod) is None
