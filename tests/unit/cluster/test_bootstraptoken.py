"""The bootstrap token library: formats, the kubeadm Secret, signatures, pins, cluster-info."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pynetes.cluster.bootstraptoken import (
    BootstrapToken,
    TokenFormatError,
    ca_cert_hash,
    cluster_info_configmap,
    describe_ttl,
    detached_signature,
    expires_in,
    extra_groups,
    generate_token,
    normalize_hash,
    parse_cluster_info,
    parse_token,
    secret_value,
    signature_is_valid,
    signing_token,
    token_of,
    token_secret,
    usages_of,
)
from pynetes.pki.certificates import ensure_pki
from tests.conftest import require_tool

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOKEN = BootstrapToken("abcdef", "0123456789abcdef")


def with_data(secret: dict, **values: str) -> dict:
    data = dict(secret["data"])
    for key, value in values.items():
        data[key.replace("_", "-")] = base64.b64encode(value.encode()).decode()
    return {**secret, "data": data}


def test_generated_tokens_have_the_form_and_differ() -> None:
    tokens = {generate_token().value for _ in range(50)}
    assert len(tokens) == 50
    assert all(re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token) for token in tokens)


def test_parsing_refuses_other_forms_without_echoing_them() -> None:
    assert parse_token(" abcdef.0123456789abcdef\n") == TOKEN
    for bad in ("abcdef.0123456789ABCDEF", "abcde.0123456789abcdef", "abcdef:0123456789abcdef"):
        with pytest.raises(TokenFormatError) as caught:
            parse_token(bad)
        assert bad not in str(caught.value)
    assert "0123456789abcdef" not in repr(TOKEN)


def test_the_secret_is_kubeadms() -> None:
    secret = token_secret(TOKEN, now=NOW, description="for node-1")
    assert secret["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    decoded = {key: secret_value(secret, key) for key in secret["data"]}
    assert decoded == {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        "description": "for node-1",
        "expiration": "2026-03-02T12:00:00Z",
        "usage-bootstrap-signing": "true",
        "usage-bootstrap-authentication": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
    }
    forever = token_secret(TOKEN, now=NOW, ttl=None, usages=["signing"], groups=[])
    assert set(forever["data"]) == {"token-id", "token-secret", "usage-bootstrap-signing"}


def test_bad_usages_and_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid bootstrap token usage string: nope"):
        token_secret(TOKEN, now=NOW, usages=["signing", "nope"])
    with pytest.raises(ValueError, match='"system:nodes" is invalid'):
        token_secret(TOKEN, now=NOW, groups=["system:nodes"])
    with pytest.raises(ValueError, match="unless --usages includes 'authentication'"):
        token_secret(TOKEN, now=NOW, usages=["signing"])


def test_expiry_and_groups_are_read_as_upstream() -> None:
    secret = token_secret(TOKEN, now=NOW, ttl=timedelta(hours=1))
    now = NOW.timestamp()
    assert expires_in(secret, now) == 3600
    assert expires_in(secret, now + 3600) == 0
    assert expires_in(with_data(secret, expiration="tomorrow"), now) == 0, "unparseable: expired"
    assert expires_in(token_secret(TOKEN, now=NOW, ttl=None), now) is None
    grouped = with_data(
        secret,
        auth_extra_groups="system:bootstrappers:b,system:bootstrappers:a,system:bootstrappers:b",
    )
    assert extra_groups(grouped) == (
        "system:bootstrappers",
        "system:bootstrappers:a",
        "system:bootstrappers:b",
    )
    with pytest.raises(ValueError):
        extra_groups(with_data(secret, auth_extra_groups="system:bootstrappers:a,system:masters"))


def test_only_well_formed_live_signing_tokens_sign() -> None:
    secret = token_secret(TOKEN, now=NOW)
    now = NOW.timestamp()
    assert signing_token(secret, now) == TOKEN
    assert signing_token(secret, now + 86400) is None
    assert signing_token(token_secret(TOKEN, now=NOW, usages=["authentication"]), now) is None
    assert token_of(with_data(secret, token_id="ghijkl")) is None, "the name's id must match"
    assert token_of({**secret, "type": "Opaque"}) is None
    assert usages_of(secret) == ["authentication", "signing"]


def test_signatures_are_upstreams_byte_for_byte() -> None:
    # upstream's known answer (cluster-bootstrap's jws tests)
    token = BootstrapToken("joshua", "my voice is my passcode")
    content = "Hello from the other side. I must have called a thousand times."
    expected = (
        "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"
    )
    assert detached_signature(content, token) == expected
    assert signature_is_valid(expected, content, token)
    assert not signature_is_valid(expected + "x", content, token)
    assert not signature_is_valid(expected, content + " ", token)


def test_the_ca_hash_is_kubeadms_openssl_recipe(tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    pki = ensure_pki(tmp_path / "pki")
    public_key = subprocess.run(
        [openssl, "x509", "-pubkey", "-noout", "-in", str(pki.ca_cert)],
        capture_output=True,
        check=True,
    ).stdout
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-outform", "der"],
        input=public_key,
        capture_output=True,
        check=True,
    ).stdout
    digest = subprocess.run(
        [openssl, "dgst", "-sha256", "-hex"], input=der, capture_output=True, check=True
    ).stdout.decode()
    assert ca_cert_hash(pki.ca_cert.read_bytes()) == "sha256:" + digest.split()[-1]


def test_pins_are_normalized_or_refused() -> None:
    digest = "AB" * 32
    assert normalize_hash(f"SHA256:{digest}") == "sha256:" + digest.lower()
    for bad in (digest, f"md5:{digest}", "sha256:abc"):
        with pytest.raises(ValueError):
            normalize_hash(bad)


def test_cluster_info_round_trips() -> None:
    config_map = cluster_info_configmap("https://10.0.0.1:6443", b"-----BEGIN CERTIFICATE-----\n")
    assert config_map["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    assert parse_cluster_info(config_map["data"]["kubeconfig"]) == (
        "https://10.0.0.1:6443",
        b"-----BEGIN CERTIFICATE-----\n",
    )
    with pytest.raises(ValueError, match="holds no cluster"):
        parse_cluster_info("apiVersion: v1\nclusters: []\n")


def test_ttl_is_shown_as_kubeadm_token_list_does() -> None:
    now = NOW.timestamp()
    assert describe_ttl(token_secret(TOKEN, now=NOW), now + 1) == "23h"
    assert describe_ttl(token_secret(TOKEN, now=NOW, ttl=timedelta(days=3)), now) == "3d"
    assert describe_ttl(token_secret(TOKEN, now=NOW, ttl=None), now) == "<forever>"
    assert describe_ttl(token_secret(TOKEN, now=NOW), now + 86400) == "<invalid>"
