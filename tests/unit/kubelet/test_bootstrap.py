"""The pure parts of the kubelet's TLS bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pynetes.client.config import ClientConfig, load_kubeconfig
from pynetes.kubelet.bootstrap import (
    BootstrapError,
    client_config_still_valid,
    judge,
    node_kubeconfig,
    request_name,
)
from pynetes.pki.certificates import issue_client_certificate, new_certificate_authority
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig


def test_the_request_name_is_a_digest_of_key_subject_and_usages() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = request_name(key, "n1")
    assert name.startswith("node-csr-") and len(name) == len("node-csr-") + 43
    assert request_name(key, "n1") == name
    assert request_name(key, "n2") != name
    assert request_name(ec.generate_private_key(ec.SECP256R1()), "n1") != name


def test_judge_waits_then_returns_the_certificate_or_raises() -> None:
    def csr(*conditions: str, certificate: str = "") -> dict[str, object]:
        status: dict[str, object] = {"conditions": [{"type": c, "reason": "R"} for c in conditions]}
        if certificate:
            status["certificate"] = certificate
        return {"metadata": {"name": "node-csr-x", "uid": "u"}, "status": status}

    assert judge(csr(), "u")[1].startswith("pending")
    assert judge(csr("Approved"), "u")[1].startswith("approved")
    assert judge(csr("Approved", certificate="Q0VSVA=="), "u") == (b"CERT", "")
    with pytest.raises(BootstrapError, match="is denied, reason: R"):
        judge(csr("Denied"), "u")
    with pytest.raises(BootstrapError, match="failed, reason: R"):
        judge(csr("Approved", "Failed"), "u")
    with pytest.raises(BootstrapError, match="changed UIDs"):
        judge(csr(), "other")


def test_an_expired_or_missing_client_certificate_is_not_valid(tmp_path: Path) -> None:
    ca = new_certificate_authority()
    path = tmp_path / "kubelet.conf"
    assert not client_config_still_valid(path, 0.0)
    pair = issue_client_certificate(ca, "system:node:n1", ["system:nodes"])
    write_kubeconfig(
        path,
        kubeconfig(server="https://127.0.0.1:1", ca_pem=b"", user="u", client=pair),
    )
    expiry = pair.certificate.not_valid_after_utc.timestamp()
    assert client_config_still_valid(path, expiry - 60)
    assert not client_config_still_valid(path, expiry + 60)
    write_kubeconfig(
        path, kubeconfig(server="https://127.0.0.1:1", ca_pem=b"", user="u", token="t")
    )
    assert not client_config_still_valid(path, expiry - 60)
    path.write_text("not: [a kubeconfig")
    assert not client_config_still_valid(path, expiry - 60)


def test_the_node_kubeconfig_points_at_the_combined_file(tmp_path: Path) -> None:
    ca = new_certificate_authority()
    pair = issue_client_certificate(ca, "system:node:n1", ["system:nodes"])
    combined = tmp_path / "pki" / "kubelet-client-current.pem"
    combined.parent.mkdir()
    combined.write_bytes(pair.certificate_pem() + pair.key_pem())
    bootstrap = ClientConfig("https://10.0.0.1:6443", ca_pem=ca.certificate_pem(), token="t")
    path = tmp_path / "kubelet.conf"
    write_kubeconfig(path, node_kubeconfig(bootstrap, combined))
    loaded = load_kubeconfig(path)
    assert loaded.server == "https://10.0.0.1:6443"
    assert loaded.ca_pem == ca.certificate_pem()
    assert loaded.client_cert_pem is not None and loaded.client_key_pem is not None
    assert loaded.token is None
