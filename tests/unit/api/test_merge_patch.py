"""JSON merge patch as kube-apiserver applies it (evanphx/json-patch v4.12.0 MergePatch).

Expected results were checked against upstream's own code.
"""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetes.api.errors import ApiError
from pynetes.api.patch import apply_merge_patch


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        # RFC 7386 appendix A, where upstream agrees with it.
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        # Upstream prunes null members inside lists it copies in...
        ({"a": "b"}, {"a": [{"x": None, "y": 1}, None]}, {"a": [{"y": 1}, None]}),
        ({"a": None}, {"a": {"x": None}}, {"a": {}}),
        # ...but not in a list that replaces an object.
        ({"a": {"x": 1}}, {"a": [{"x": None}]}, {"a": [{"x": None}]}),
        # An array body replaces the document, its object members' nulls pruned.
        ({"a": "b"}, [{"x": None}], [{}]),
    ],
)
def test_merge(original, patch, result):
    assert apply_merge_patch(original, patch) == result


def test_kubectl_label_and_scale():
    deployment = {
        "metadata": {"name": "web", "labels": {"app": "web", "old": "x"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web"}]}}},
    }
    patched = apply_merge_patch(
        deployment, {"metadata": {"labels": {"tier": "fe", "old": None}}, "spec": {"replicas": 3}}
    )
    assert patched == {
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web"}]}}},
    }


def test_lists_are_replaced_whole():
    pod = {"spec": {"containers": [{"name": "web", "image": "a"}, {"name": "log"}]}}
    patched = apply_merge_patch(pod, {"spec": {"containers": [{"name": "web", "image": "b"}]}})
    assert patched == {"spec": {"containers": [{"name": "web", "image": "b"}]}}


def test_inputs_are_untouched_and_the_result_is_not_shared():
    original = {"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1]}}
    patch = {"metadata": {"labels": {"b": "2"}}, "data": {"k": [1]}}
    before = (copy.deepcopy(original), copy.deepcopy(patch))
    result = apply_merge_patch(original, patch)
    result["spec"]["x"].append(2)
    result["data"]["k"].append(2)
    assert (original, patch) == before


@pytest.mark.parametrize("patch", [None, "x", 5, 1.5, True])
def test_a_patch_that_is_not_an_object_or_array_is_a_400(patch):
    with pytest.raises(ApiError) as caught:
        apply_merge_patch({"a": 1}, patch)
    error = caught.value
    assert (error.code, error.reason, error.message) == (400, "BadRequest", "Invalid JSON Patch")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "metadata"]), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_any_patch_either_merges_or_raises_an_api_error(original, patch):
    before = copy.deepcopy(original)
    try:
        result = apply_merge_patch(original, patch)
    except ApiError as error:
        assert error.code == 400
    else:
        # Whatever merged, a null member never survives into an object the patch wrote.
        if isinstance(patch, dict) and isinstance(result, dict):
            assert all(result.get(key) is not None for key, value in patch.items() if value)
    assert original == before
