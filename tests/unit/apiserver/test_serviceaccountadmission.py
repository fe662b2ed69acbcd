"""The ServiceAccount admission plugin's pod changes, case by case."""

from __future__ import annotations

from typing import Any

from pynetes.apiserver.serviceaccountadmission import TOKEN_MOUNT_PATH, admit_pod

Object = dict[str, Any]


def pod(**spec: Any) -> Object:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}], **spec}}


def test_a_container_already_mounting_the_path_is_left_alone() -> None:
    own = {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}
    admitted = pod(
        containers=[{"name": "a", "volumeMounts": [own]}, {"name": "b"}],
        volumes=[{"name": "mine", "emptyDir": {}}],
    )
    admit_pod(admitted, None)
    spec = admitted["spec"]
    assert spec["containers"][0]["volumeMounts"] == [own]
    [mount] = spec["containers"][1]["volumeMounts"]
    assert [v["name"] for v in spec["volumes"]] == ["mine", mount["name"]]


def test_no_volume_when_every_container_mounts_the_path_itself() -> None:
    own = {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}
    admitted = pod(containers=[{"name": "a", "volumeMounts": [own]}])
    admit_pod(admitted, None)
    assert "volumes" not in admitted["spec"]


def test_an_existing_token_volume_is_reused() -> None:
    volume = {"name": "kube-api-access-abcde", "projected": {"sources": []}}
    admitted = pod(volumes=[volume])
    admit_pod(admitted, None)
    assert admitted["spec"]["volumes"] == [volume]
    assert admitted["spec"]["containers"][0]["volumeMounts"][0]["name"] == volume["name"]


def test_the_pods_choice_wins_over_its_accounts() -> None:
    account = {"metadata": {"name": "default"}, "automountServiceAccountToken": False}
    admitted = pod(automountServiceAccountToken=True)
    admit_pod(admitted, account)
    assert len(admitted["spec"]["volumes"]) == 1


def test_image_pull_secrets_come_from_the_account_when_the_pod_has_none() -> None:
    account = {"metadata": {"name": "default"}, "imagePullSecrets": [{"name": "registry"}]}
    admitted = pod()
    admit_pod(admitted, account)
    assert admitted["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert admitted["spec"]["serviceAccountName"] == admitted["spec"]["serviceAccount"]
