"""StatefulSet members: ordinals, names, labels, claims, and the revision of new pods."""

from __future__ import annotations

from typing import Any

from pynetes.controllermanager.controllers.statefulset.identity import (
    Revisions,
    is_stale_claim,
    new_claims,
    new_pod,
    retained_references,
    sort_members,
)

Object = dict[str, Any]


def stateful_set(replicas: int = 3, **spec: Any) -> Object:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "u"},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx:1"}],
                    "volumes": [
                        {"name": "data", "emptyDir": {}},
                        {"name": "cache", "emptyDir": {}},
                    ],
                },
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "data", "labels": {"tier": "disk"}}, "spec": {}}
            ],
            **spec,
        },
    }


def pod(name: str) -> Object:
    return {"metadata": {"name": name}}


def test_members_are_placed_by_ordinal_and_the_rest_condemned_highest_first() -> None:
    members = sort_members(
        stateful_set(3, ordinals={"start": 5}),
        [pod("web-6"), pod("web-9"), pod("web-2"), pod("web-8"), pod("web-x")],
    )
    assert members.replicas == [None, pod("web-6"), None]
    assert members.condemned == [pod("web-9"), pod("web-8"), pod("web-2")]


def test_a_new_member_has_its_name_host_labels_and_claim_volume() -> None:
    created = new_pod(stateful_set(), 1, "web-abc")
    metadata, spec = created["metadata"], created["spec"]
    assert metadata["name"] == "web-1" and "generateName" not in metadata
    assert metadata["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-1",
        "apps.kubernetes.io/pod-index": "1",
        "controller-revision-hash": "web-abc",
    }
    assert (spec["hostname"], spec["subdomain"]) == ("web-1", "nginx")
    assert spec["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
        {"name": "cache", "emptyDir": {}},
    ]
    assert metadata["ownerReferences"][0]["kind"] == "StatefulSet"


def test_claims_carry_the_selector_labels_and_the_set_owns_them_only_if_asked() -> None:
    (claim,) = new_claims(stateful_set(), 2)
    assert claim["metadata"]["name"] == "data-web-2"
    assert claim["metadata"]["labels"] == {"tier": "disk", "app": "web"}
    assert "ownerReferences" not in claim["metadata"]
    retention = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    (owned,) = new_claims(stateful_set(persistentVolumeClaimRetentionPolicy=retention), 2)
    (reference,) = owned["metadata"]["ownerReferences"]
    assert (reference["kind"], reference["uid"]) == ("StatefulSet", "u")
    assert "controller" not in reference


def test_new_pods_below_the_partition_stay_at_the_current_revision() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    current = stateful_set(updateStrategy=strategy)
    update = stateful_set(updateStrategy=strategy)
    update["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    revisions = Revisions(current, update, "web-old", "web-new")

    def image_and_revision(ordinal: int) -> tuple[str, str]:
        created = revisions.pod(ordinal)
        labels = created["metadata"]["labels"]
        return created["spec"]["containers"][0]["image"], labels["controller-revision-hash"]

    assert image_and_revision(1) == ("nginx:1", "web-old")
    assert image_and_revision(2) == ("nginx:2", "web-new")
    on_delete = Revisions(
        stateful_set(updateStrategy={"type": "OnDelete"}), update, "web-old", "web-new"
    )
    assert on_delete.pod(0)["metadata"]["labels"]["controller-revision-hash"] == "web-new"


def test_claim_owners_follow_the_retention_policy_matrix() -> None:
    member = {"metadata": {"name": "web-1", "uid": "p"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "k"}

    def owners(when_deleted: str, when_scaled: str, scaled_down: bool) -> set[str]:
        retention = {"whenDeleted": when_deleted, "whenScaled": when_scaled}
        owner = stateful_set(persistentVolumeClaimRetentionPolicy=retention)
        references = retained_references([other], owner, member, scaled_down=scaled_down)
        return {reference["kind"] for reference in references} - {"ConfigMap"}

    assert owners("Retain", "Retain", True) == set()
    assert owners("Delete", "Retain", False) == {"StatefulSet"}
    assert owners("Delete", "Retain", True) == {"StatefulSet"}
    assert owners("Retain", "Delete", False) == set()
    assert owners("Retain", "Delete", True) == {"Pod"}
    assert owners("Delete", "Delete", False) == {"StatefulSet"}
    assert owners("Delete", "Delete", True) == {"Pod"}
    owned = [{"kind": "Pod", "uid": "p"}, {"kind": "StatefulSet", "uid": "u"}]
    retention = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    released = retained_references(
        owned,
        stateful_set(persistentVolumeClaimRetentionPolicy=retention),
        member,
        scaled_down=False,
    )
    assert released == []


def test_a_claim_owned_by_an_earlier_pod_of_the_name_is_stale() -> None:
    claim = {"metadata": {"ownerReferences": [{"kind": "Pod", "uid": "old"}]}}
    assert is_stale_claim(claim, {"metadata": {"name": "web-0"}})
    assert is_stale_claim(claim, {"metadata": {"name": "web-0", "uid": "new"}})
    assert not is_stale_claim(claim, {"metadata": {"name": "web-0", "uid": "old"}})
    assert not is_stale_claim({"metadata": {}}, {"metadata": {"name": "web-0"}})
