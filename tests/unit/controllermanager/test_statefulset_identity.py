"""StatefulSet members: ordinals, names, labels, claims, and the revision of new pods."""

from __future__ import annotations

from typing import Any

from pynetes.controllermanager.controllers.statefulset.identity import (
    Revisions,
    new_claims,
    new_pod,
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
