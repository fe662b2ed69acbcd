"""The PKI directory: what ensure_pki creates, what it reuses, what it reissues."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pynetes.pki import (
    ADMIN_USER,
    MASTERS_GROUP,
    Pki,
    PkiError,
    ensure_pki,
    issue_client_certificate,
    new_certificate_authority,
)
from tests.conftest import FakeClock

YEAR = 365 * 24 * 3600


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def server_verifier(pki: Pki, now: datetime | None = None):
    builder = verification.PolicyBuilder().store(verification.Store([load(pki.ca_cert)]))
    if now is not None:
        builder = builder.time(now)
    return builder


def verify_serving(pki: Pki, name: verification.DNSName | verification.IPAddress) -> None:
    verifier = server_verifier(pki).build_server_verifier(name)
    verifier.verify(load(pki.serving_cert), [])


def test_creates_the_kubeadm_layout_with_private_keys_readable_by_the_owner_only(tmp_path):
    pki = ensure_pki(tmp_path / "pki")

    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in pki.directory.iterdir()}
    assert modes == {
        "ca.crt": 0o644,
        "ca.key": 0o600,
        "apiserver.crt": 0o644,
        "apiserver.key": 0o600,
        "sa.key": 0o600,
        "sa.pub": 0o644,
    }


def test_keys_are_0600_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        pki = ensure_pki(tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(pki.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.serving_key.stat().st_mode) == 0o600


def test_the_ca_is_kubernetes_for_ten_years(tmp_path):
    clock = FakeClock()
    pki = ensure_pki(tmp_path, clock=clock)
    ca = load(pki.ca_cert)

    assert ca.subject.rfc4514_string() == "CN=kubernetes"
    assert ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    issued = datetime.fromtimestamp(clock(), UTC)
    assert ca.not_valid_after_utc - issued == timedelta(days=3650)
    # Backdated so that a peer whose clock lags a little accepts it at once.
    assert ca.not_valid_before_utc < issued


@pytest.mark.parametrize(
    "name",
    [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        socket.gethostname().lower(),
        "api.example.test",
    ],
)
def test_the_serving_certificate_verifies_for_every_name_a_client_dials(tmp_path, name):
    pki = ensure_pki(tmp_path, hosts=["api.example.test"])
    verify_serving(pki, verification.DNSName(name))


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.96.0.1", "192.0.2.7", "2001:db8::7"])
def test_the_serving_certificate_verifies_for_loopback_the_service_ip_and_given_ips(tmp_path, ip):
    # 10.96.0.1 is the ClusterIP of the `kubernetes` Service in the default range.
    pki = ensure_pki(tmp_path, ips=["192.0.2.7"], hosts=["2001:db8::7"])
    verify_serving(pki, verification.IPAddress(ipaddress.ip_address(ip)))


def test_the_service_ip_follows_the_service_range(tmp_path):
    pki = ensure_pki(tmp_path, service_cidr="172.20.0.0/16")
    verify_serving(pki, verification.IPAddress(ipaddress.ip_address("172.20.0.1")))
    with pytest.raises(verification.VerificationError):
        verify_serving(pki, verification.IPAddress(ipaddress.ip_address("10.96.0.1")))


def test_the_serving_certificate_is_not_valid_for_other_names(tmp_path):
    pki = ensure_pki(tmp_path)
    with pytest.raises(verification.VerificationError):
        verify_serving(pki, verification.DNSName("example.com"))


def test_the_serving_certificate_is_for_servers_only(tmp_path):
    pki = ensure_pki(tmp_path)
    serving = load(pki.serving_cert)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert serving.subject.rfc4514_string() == "CN=kube-apiserver"


def test_a_second_start_reuses_every_file(tmp_path):
    ensure_pki(tmp_path, hosts=["api.example.test"])
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    ensure_pki(tmp_path, hosts=["api.example.test"])

    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_a_new_name_reissues_the_serving_certificate_under_the_same_ca(tmp_path):
    pki = ensure_pki(tmp_path)
    ca_before = pki.ca_cert.read_bytes()

    ensure_pki(tmp_path, hosts=["new.example.test"])

    assert pki.ca_cert.read_bytes() == ca_before
    verify_serving(pki, verification.DNSName("new.example.test"))


def test_an_expired_serving_certificate_is_reissued(tmp_path):
    clock = FakeClock()
    pki = ensure_pki(tmp_path, clock=clock)
    ca_before = pki.ca_cert.read_bytes()

    clock.advance(2 * YEAR)
    ensure_pki(tmp_path, clock=clock)

    assert pki.ca_cert.read_bytes() == ca_before
    later = datetime.fromtimestamp(clock(), UTC)
    verifier = server_verifier(pki, later).build_server_verifier(verification.DNSName("kubernetes"))
    verifier.verify(load(pki.serving_cert), [])


def test_a_serving_certificate_from_another_ca_is_reissued(tmp_path):
    pki = ensure_pki(tmp_path)
    other = ensure_pki(tmp_path / "other")
    pki.serving_cert.write_bytes(other.serving_cert.read_bytes())
    pki.serving_key.write_bytes(other.serving_key.read_bytes())

    ensure_pki(tmp_path)

    verify_serving(pki, verification.DNSName("kubernetes"))


def test_a_ca_certificate_without_its_key_is_an_error_not_a_new_ca(tmp_path):
    pki = ensure_pki(tmp_path)
    ca_before = pki.ca_cert.read_bytes()
    pki.ca_key.unlink()

    with pytest.raises(PkiError, match=r"ca\.key"):
        ensure_pki(tmp_path)
    assert pki.ca_cert.read_bytes() == ca_before


def test_a_ca_key_that_is_not_the_certificates_is_an_error(tmp_path):
    pki = ensure_pki(tmp_path)
    other = ensure_pki(tmp_path / "other")
    pki.ca_key.write_bytes(other.ca_key.read_bytes())

    with pytest.raises(PkiError, match="is not the private key"):
        ensure_pki(tmp_path)


def test_the_service_account_key_is_rsa_and_its_public_half_is_rederived(tmp_path):
    pki = ensure_pki(tmp_path)
    key = serialization.load_pem_private_key(pki.service_account_key.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    public_before = pki.service_account_public_key.read_bytes()
    pki.service_account_public_key.unlink()

    ensure_pki(tmp_path)

    assert pki.service_account_public_key.read_bytes() == public_before
    assert serialization.load_pem_public_key(public_before) == key.public_key()


def test_client_certificate_names_the_user_and_groups_and_verifies_as_a_client(tmp_path):
    pki = ensure_pki(tmp_path)
    ca = pki.load_ca()
    admin = issue_client_certificate(ca, ADMIN_USER, [MASTERS_GROUP, "team-a"])
    subject = admin.certificate.subject

    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [ADMIN_USER]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        MASTERS_GROUP,
        "team-a",
    ]
    # Client certificates carry no SAN (kubeadm's have none): relax the WebPKI
    # end-entity policy for that one extension only.
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
    )
    verifier = (
        server_verifier(pki)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy
        )
        .build_client_verifier()
    )
    verified = verifier.verify(admin.certificate, [])
    assert verified.chain[-1] == ca.certificate


def test_a_client_certificate_is_not_a_serving_certificate(tmp_path):
    pki = ensure_pki(tmp_path)
    admin = issue_client_certificate(pki.load_ca(), ADMIN_USER, [MASTERS_GROUP])
    verifier = server_verifier(pki).build_server_verifier(verification.DNSName("kubernetes"))
    with pytest.raises(verification.VerificationError):
        verifier.verify(admin.certificate, [])


def test_an_existing_rsa_ca_signs_as_well(tmp_path):
    # kubeadm's default CA is RSA 2048: pointing pynetes at its pki directory works.
    ca = new_certificate_authority()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = x509.CertificateBuilder(
        subject_name=ca.certificate.subject,
        issuer_name=ca.certificate.subject,
        public_key=rsa_key.public_key(),
        serial_number=1,
        not_valid_before=ca.certificate.not_valid_before_utc,
        not_valid_after=ca.certificate.not_valid_after_utc,
        extensions=list(ca.certificate.extensions),
    ).sign(rsa_key, ca.certificate.signature_hash_algorithm)
    tmp_path.joinpath("ca.crt").write_bytes(rsa_ca.public_bytes(serialization.Encoding.PEM))
    tmp_path.joinpath("ca.key").write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )

    pki = ensure_pki(tmp_path)

    verify_serving(pki, verification.DNSName("kubernetes"))


def test_key_pairs_never_show_their_key(tmp_path):
    pki = ensure_pki(tmp_path)
    ca = pki.load_ca()
    assert "key=" not in repr(ca)
    assert ca.key_pem().decode() not in repr(ca)


def test_no_key_material_is_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    pki = ensure_pki(tmp_path)
    ensure_pki(tmp_path, hosts=["again.example.test"])

    logged = caplog.text
    assert caplog.records, "ensure_pki reports what it created"
    for key_file in (pki.ca_key, pki.serving_key, pki.service_account_key):
        body = "".join(key_file.read_text().splitlines()[1:-1])
        assert body[:40] not in logged
    assert "PRIVATE KEY" not in logged
