"""Controller revisions: their data, names, hashes, order and equality."""

from __future__ import annotations

from pynetes.controllermanager.common.history import (
    REVISION_HASH_LABEL,
    equal_revisions,
    hash_of,
    new_revision,
    next_number,
    revision_name,
    sorted_revisions,
    template_of,
    with_template_of,
)

OWNER = {
    "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
    "spec": {
        "replicas": 3,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
        },
    },
}


def test_a_revision_holds_the_template_as_the_patch_that_restores_it() -> None:
    revision = new_revision(OWNER, "apps/v1", "StatefulSet", number=4, collision_count=0)
    template = OWNER["spec"]["template"]
    assert revision["data"] == {"spec": {"template": {**template, "$patch": "replace"}}}
    assert revision["revision"] == 4
    hash_value = revision["metadata"]["labels"][REVISION_HASH_LABEL]
    assert revision["metadata"]["name"] == f"web-{hash_value}"
    assert revision["metadata"]["labels"]["app"] == "web"
    (owner,) = revision["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("StatefulSet", "u1", True)
    assert template_of(revision) == template
    assert "annotations" not in revision["metadata"]
    cause = {"kubernetes.io/change-cause": "kubectl set image"}
    annotated = {**OWNER, "metadata": {**OWNER["metadata"], "annotations": cause}}
    revision = new_revision(annotated, "apps/v1", "StatefulSet", number=1, collision_count=0)
    assert revision["metadata"]["annotations"] == cause


def test_hashes_are_stable_safe_and_change_with_the_collision_count() -> None:
    data = {"spec": {"template": {"b": 1, "a": [1, 2]}}}
    reordered = {"spec": {"template": {"a": [1, 2], "b": 1}}}
    assert hash_of(data, 0) == hash_of(reordered, 0)
    assert hash_of(data, 0) != hash_of(data, 1)
    assert hash_of(data, 0) != hash_of({"spec": {}}, 0)
    assert set(hash_of(data, 7)) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_revisions_with_equal_data_are_equal_whatever_their_names() -> None:
    first = new_revision(OWNER, "apps/v1", "StatefulSet", number=1, collision_count=0)
    collided = new_revision(OWNER, "apps/v1", "StatefulSet", number=2, collision_count=1)
    changed_owner = with_template_of(OWNER, {"data": {"spec": {"template": {"spec": {}}}}})
    other = new_revision(changed_owner, "apps/v1", "StatefulSet", number=3, collision_count=0)
    assert equal_revisions(first, collided)
    assert not equal_revisions(first, other)
    assert OWNER["spec"]["template"]["spec"]["containers"], "the owner is not changed"


def test_revisions_sort_by_number_then_age_then_name() -> None:
    def revision(name: str, number: int, created: str) -> dict:
        return {"metadata": {"name": name, "creationTimestamp": created}, "revision": number}

    revisions = [
        revision("c", 2, "2026-01-01T00:00:00Z"),
        revision("b", 1, "2026-01-02T00:00:00Z"),
        revision("a", 1, "2026-01-02T00:00:00Z"),
        revision("d", 1, "2026-01-01T00:00:00Z"),
    ]
    assert [r["metadata"]["name"] for r in sorted_revisions(revisions)] == ["d", "a", "b", "c"]
    assert next_number(revisions) == 3
    assert next_number([]) == 1
