"""JSON patch as kube-apiserver applies it (evanphx/json-patch v4.12.0).

Expected results and messages were checked against upstream's own code.
"""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api.errors import ApiError
from pynetes.api.patch import apply_json_patch
from pynetes.api.patch.json_patch import MAX_OPERATIONS

INVALID = "the server rejected our request due to an error in our request"


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "annotations": {"example.com/a~b": "1", "example.com/c": "2"},
        },
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "args": ["--a", "--b"]},
                        {"name": "log", "image": "fluentd"},
                    ]
                }
            },
        },
    }


def containers(document: dict) -> list:
    return document["spec"]["template"]["spec"]["containers"]


def test_replace_image_like_kubectl_patch_type_json():
    result = apply_json_patch(
        deployment(),
        [
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/image",
                "value": "nginx:1.26",
            }
        ],
    )
    assert containers(result)[0]["image"] == "nginx:1.26"


@pytest.mark.parametrize(
    ("operation", "check"),
    [
        # "-" appends; an index inserts before it.
        (
            {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--c"},
            lambda d: containers(d)[0]["args"] == ["--a", "--b", "--c"],
        ),
        (
            {"op": "add", "path": "/spec/template/spec/containers/0/args/0", "value": "--z"},
            lambda d: containers(d)[0]["args"] == ["--z", "--a", "--b"],
        ),
        # Negative indexes count from the end (upstream's SupportNegativeIndices).
        (
            {"op": "add", "path": "/spec/template/spec/containers/0/args/-1", "value": "--z"},
            lambda d: containers(d)[0]["args"] == ["--a", "--b", "--z"],
        ),
        (
            {"op": "remove", "path": "/spec/template/spec/containers/-1"},
            lambda d: [c["name"] for c in containers(d)] == ["web"],
        ),
        # ~1 is "/" and ~0 is "~" in a pointer token.
        (
            {"op": "remove", "path": "/metadata/annotations/example.com~1a~0b"},
            lambda d: d["metadata"]["annotations"] == {"example.com/c": "2"},
        ),
        (
            {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
            lambda d: d["metadata"]["labels"] == {"app": "web", "tier": "fe"},
        ),
        # add replaces an existing member.
        (
            {"op": "add", "path": "/spec/replicas", "value": 5},
            lambda d: d["spec"]["replicas"] == 5,
        ),
        # Upstream's replace of a missing object member adds it.
        (
            {"op": "replace", "path": "/spec/paused", "value": True},
            lambda d: d["spec"]["paused"] is True,
        ),
        (
            {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/name"},
            lambda d: d["metadata"]["labels"] == {"name": "web"},
        ),
        (
            {
                "op": "copy",
                "from": "/spec/template/spec/containers/1",
                "path": "/spec/template/spec/containers/-",
            },
            lambda d: [c["name"] for c in containers(d)] == ["web", "log", "log"],
        ),
        # Upstream copies null from a missing member.
        (
            {"op": "copy", "from": "/metadata/missing", "path": "/metadata/copied"},
            lambda d: d["metadata"]["copied"] is None,
        ),
        (
            {"op": "test", "path": "/spec/replicas", "value": 3},
            lambda d: d == deployment(),
        ),
        # A missing member tests equal to null.
        (
            {"op": "test", "path": "/spec/paused", "value": None},
            lambda d: d == deployment(),
        ),
        # The whole document can be tested and replaced.
        (
            {"op": "test", "path": "", "value": deployment()},
            lambda d: d == deployment(),
        ),
        (
            {"op": "replace", "path": "", "value": {"kind": "Other"}},
            lambda d: d == {"kind": "Other"},
        ),
        # ...but replacing it with a scalar is silently nothing upstream.
        (
            {"op": "replace", "path": "", "value": 5},
            lambda d: d == deployment(),
        ),
        # A path not starting with "/" loses its first segment upstream.
        (
            {"op": "add", "path": "spec/paused", "value": True},
            lambda d: d["paused"] is True,
        ),
    ],
)
def test_operations(operation, check):
    assert check(apply_json_patch(deployment(), [operation]))


def test_operations_apply_in_order_and_see_earlier_results():
    result = apply_json_patch(
        deployment(),
        [
            {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
            {"op": "test", "path": "/metadata/labels/tier", "value": "fe"},
            {"op": "move", "from": "/metadata/labels", "path": "/spec/selector"},
        ],
    )
    assert result["spec"]["selector"] == {"app": "web", "tier": "fe"}
    assert "labels" not in result["metadata"]


def test_inputs_are_untouched_and_values_are_not_shared():
    document, operations = (
        deployment(),
        [
            {"op": "add", "path": "/metadata/labels", "value": {"a": "1"}},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        ],
    )
    before = copy.deepcopy(operations)
    result = apply_json_patch(document, operations)
    assert document == deployment()
    assert operations == before
    assert result["metadata"]["labels"] == {"a": "1", "b": "2"}


def test_null_patch_changes_nothing():
    # Go decodes a null body into an empty patch.
    assert apply_json_patch(deployment(), None) == deployment()


def failure(operations, document=None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        apply_json_patch(deployment() if document is None else document, operations)
    return caught.value


@pytest.mark.parametrize(
    ("operation", "cause"),
    [
        (
            {"op": "test", "path": "/spec/replicas", "value": 4},
            "testing value /spec/replicas failed: test failed",
        ),
        # Numbers compare by their JSON text upstream: 3 is not 3.0, nor true 1.
        (
            {"op": "test", "path": "/spec/replicas", "value": 3.0},
            "testing value /spec/replicas failed: test failed",
        ),
        (
            {"op": "add", "path": "/spec/strategy/type", "value": "Recreate"},
            'add operation does not apply: doc is missing path: "/spec/strategy/type": '
            "missing value",
        ),
        (
            {"op": "remove", "path": "/metadata/labels/missing"},
            "error in remove for path: '/metadata/labels/missing': Unable to remove "
            "nonexistent key: missing: missing value",
        ),
        (
            {"op": "remove", "path": "/nope/x"},
            'remove operation does not apply: doc is missing path: "/nope/x": missing value',
        ),
        (
            {"op": "replace", "path": "/spec/template/spec/containers/5", "value": {}},
            "replace operation does not apply: doc is missing key: "
            "/spec/template/spec/containers/5: missing value",
        ),
        (
            {"op": "add", "path": "/spec/template/spec/containers/3", "value": {}},
            "error in add for path: '/spec/template/spec/containers/3': Unable to access "
            "invalid index: 3: invalid index referenced",
        ),
        (
            {"op": "add", "path": "/spec/template/spec/containers/x", "value": {}},
            "error in add for path: '/spec/template/spec/containers/x': value was not a "
            "proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            {"op": "move", "from": "/metadata/nope", "path": "/metadata/x"},
            "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value",
        ),
        (
            {"op": "copy", "from": "/a/b", "path": "/metadata/x"},
            "copy operation does not apply: doc is missing from path: /a/b: missing value",
        ),
        (
            {"op": "add", "value": 1},
            "add operation failed to decode path: missing value",
        ),
        (
            {"op": "replace", "path": 5, "value": 1},
            "replace operation failed to decode path: json: cannot unmarshal number into Go "
            "value of type string",
        ),
        (
            {"op": "move", "path": "/a"},
            "move operation failed to decode from: operation, missing from field: missing value",
        ),
        ({"op": "increment", "path": "/spec/replicas"}, "Unexpected kind: increment"),
        ({"path": "/spec/replicas"}, "Unexpected kind: unknown"),
    ],
)
def test_an_operation_that_cannot_apply_is_a_422_without_its_cause(operation, cause):
    # kube-apiserver answers NewGenericServerResponse(422, ...): reason Invalid and a
    # fixed message; kubectl prints "The request is invalid: the server rejected...".
    error = failure([operation])
    assert (error.code, error.reason, error.message) == (422, "Invalid", INVALID)
    assert str(error.__cause__) == cause


def test_a_failing_operation_leaves_the_document_unpatched():
    document = deployment()
    failure([{"op": "remove", "path": "/metadata"}, {"op": "test", "path": "/x", "value": 1}])
    assert document == deployment()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"op": "add", "path": "/a", "value": 1},
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ),
        ("add", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
        ([["add"]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
        ([True], "json: cannot unmarshal bool into Go value of type jsonpatch.Operation"),
    ],
)
def test_a_body_that_is_not_a_list_of_operations_is_a_400(body, message):
    error = failure(body)
    assert (error.code, error.reason, error.message) == (400, "BadRequest", message)


def test_too_many_operations_is_a_413():
    operations = [{"op": "test", "path": "/kind", "value": "Deployment"}] * (MAX_OPERATIONS + 1)
    error = failure(operations)
    assert (error.code, error.reason) == (413, "RequestEntityTooLarge")
    assert error.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001"
    )


def test_copies_may_not_add_more_than_three_mebibytes():
    # kube-apiserver sets jsonpatch.AccumulatedCopySizeLimit from JSONPatchMaxCopyBytes.
    document = {"data": {"blob": "x" * (1024 * 1024 - 10)}}
    copies = [{"op": "copy", "from": "/data/blob", "path": f"/data/c{i}"} for i in range(3)]
    assert len(apply_json_patch(document, copies)["data"]) == 4
    error = failure([*copies, {"op": "copy", "from": "/data/blob", "path": "/data/c4"}], document)
    assert error.code == 422
    assert str(error.__cause__).startswith(
        "Unable to complete the copy, the accumulated size increase of copy is 4194272, "
        "exceeding the limit 3145728"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
pointers = st.one_of(
    st.sampled_from(
        ["", "/", "/metadata/labels/app", "/spec/template/spec/containers/0", "/spec/-"]
    ),
    st.lists(st.sampled_from(["spec", "metadata", "0", "-1", "-", "x", "~0", "~1"])).map(
        lambda tokens: "".join("/" + token for token in tokens)
    ),
    json_values,
)
operation = st.fixed_dictionaries(
    {},
    optional={
        "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]) | json_values,
        "path": pointers,
        "from": pointers,
        "value": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation | json_values, max_size=4) | json_values)
def test_any_patch_either_applies_or_raises_an_api_error(operations):
    document = deployment()
    try:
        apply_json_patch(document, operations)
    except ApiError as error:
        assert error.code in (400, 413, 422)
    assert document == deployment()
