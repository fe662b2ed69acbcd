"""kubeconfig files, read back by the real kubectl."""

from __future__ import annotations

import base64
import copy
import json
import stat
import subprocess

import pytest
import yaml

from pynetes.pki import (
    ADMIN_USER,
    MASTERS_GROUP,
    issue_client_certificate,
    kubeconfig,
    merge_kubeconfig,
    new_certificate_authority,
    write_kubeconfig,
)
from tests.conftest import require_tool

SERVER = "https://127.0.0.1:6443"


@pytest.fixture(scope="module")
def ca():
    return new_certificate_authority()


@pytest.fixture(scope="module")
def admin(ca):
    return issue_client_certificate(ca, ADMIN_USER, [MASTERS_GROUP])


def kubectl(path, *args: str) -> str:
    binary = require_tool("kubectl")
    return subprocess.run(
        [binary, "--kubeconfig", str(path), "config", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def view(path) -> dict:
    return json.loads(kubectl(path, "view", "--raw", "-o", "json"))


def contexts(path) -> list[str]:
    return sorted(kubectl(path, "get-contexts", "-o", "name").split())


def other_config() -> dict:
    """A kubeconfig the user already had, with keys pynetes does not write."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {"colors": True},
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example.test"}}],
        "users": [{"name": "me", "user": {"token": "prod-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "me"}}],
        "current-context": "prod",
    }


def test_an_admin_kubeconfig_as_kubectl_reads_it(tmp_path, ca, admin):
    path = tmp_path / "admin.conf"
    write_kubeconfig(
        path, kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin)
    )

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = view(path)
    assert config["current-context"] == "kubernetes-admin@kubernetes"
    assert config["clusters"] == [
        {
            "name": "kubernetes",
            "cluster": {
                "server": SERVER,
                "certificate-authority-data": base64.b64encode(ca.certificate_pem()).decode(),
            },
        }
    ]
    assert config["users"] == [
        {
            "name": "kubernetes-admin",
            "user": {
                "client-certificate-data": base64.b64encode(admin.certificate_pem()).decode(),
                "client-key-data": base64.b64encode(admin.key_pem()).decode(),
            },
        }
    ]
    assert contexts(path) == ["kubernetes-admin@kubernetes"]


def test_a_token_user_with_names_and_namespace_chosen(tmp_path, ca):
    path = tmp_path / "dev.conf"
    config = kubeconfig(
        server=SERVER,
        ca_pem=ca.certificate_pem(),
        user="dev",
        token="dev-token-123",
        cluster="pynetes",
        context="dev",
        namespace="team-a",
    )
    write_kubeconfig(path, config)

    seen = view(path)
    assert seen["users"] == [{"name": "dev", "user": {"token": "dev-token-123"}}]
    assert seen["contexts"] == [
        {"name": "dev", "context": {"cluster": "pynetes", "user": "dev", "namespace": "team-a"}}
    ]
    # Without --raw kubectl hides the secret, which proves it sees a token there.
    assert "REDACTED" in kubectl(path, "view")


@pytest.mark.parametrize(
    ("with_token", "with_client"), [(False, False), (True, True)], ids=["neither", "both"]
)
def test_a_user_needs_exactly_one_credential(ca, admin, with_token, with_client):
    credentials = {}
    if with_token:
        credentials["token"] = "t"
    if with_client:
        credentials["client"] = admin
    with pytest.raises(ValueError, match="exactly one"):
        kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user="u", **credentials)


def test_merging_keeps_the_users_other_entries_and_current_context(tmp_path, ca, admin):
    path = tmp_path / ".kube" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(other_config()))
    ours = kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin)
    ours_before = copy.deepcopy(ours)

    merge_kubeconfig(path, ours)

    assert ours == ours_before
    assert contexts(path) == ["kubernetes-admin@kubernetes", "prod"]
    assert kubectl(path, "current-context").strip() == "prod"
    merged = yaml.safe_load(path.read_text())
    assert merged["preferences"] == {"colors": True}
    assert merged["users"][0] == {"name": "me", "user": {"token": "prod-token"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_merging_sets_the_current_context_when_asked(tmp_path, ca, admin):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(other_config()))

    merge_kubeconfig(
        path,
        kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin),
        set_current_context=True,
    )

    assert kubectl(path, "current-context").strip() == "kubernetes-admin@kubernetes"
    assert contexts(path) == ["kubernetes-admin@kubernetes", "prod"]


def test_merging_again_replaces_our_entries_instead_of_adding_copies(tmp_path, ca, admin):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(other_config()))
    for server in ("https://127.0.0.1:6443", "https://127.0.0.1:7443"):
        merge_kubeconfig(
            path,
            kubeconfig(server=server, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin),
        )

    clusters = {cluster["name"]: cluster["cluster"]["server"] for cluster in view(path)["clusters"]}
    assert clusters == {"prod": "https://prod.example.test", "kubernetes": "https://127.0.0.1:7443"}
    assert contexts(path) == ["kubernetes-admin@kubernetes", "prod"]


def test_merging_into_a_missing_file_creates_it_without_a_current_context(tmp_path, ca, admin):
    path = tmp_path / "new" / "config"

    merge_kubeconfig(
        path, kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin)
    )

    assert contexts(path) == ["kubernetes-admin@kubernetes"]
    assert "current-context" not in yaml.safe_load(path.read_text())


def test_merging_into_a_file_that_is_not_a_kubeconfig_fails_and_leaves_it(tmp_path, ca):
    path = tmp_path / "config"
    path.write_text("- just\n- a list\n")

    with pytest.raises(ValueError, match="not a kubeconfig"):
        merge_kubeconfig(
            path, kubeconfig(server=SERVER, ca_pem=ca.certificate_pem(), user="u", token="t")
        )
    assert path.read_text() == "- just\n- a list\n"
