"""PEM reading, CSR checks and key usages, as the certificates API judges them."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from pynetes.pki.certificates import issue_client_certificate, new_certificate_authority
from pynetes.pki.csr import (
    CsrError,
    check_certificate_chain,
    check_csr,
    key_usage_extensions,
    new_csr_pem,
    pem_blocks,
)


def request() -> bytes:
    return new_csr_pem(ec.generate_private_key(ec.SECP256R1()), "system:node:n1", ["system:nodes"])


def test_a_fresh_request_parses_and_verifies_with_its_subject() -> None:
    parsed = check_csr(b"leading text is skipped\n" + request())
    assert parsed.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"


def test_a_request_must_be_the_first_block_and_a_certificate_request() -> None:
    with pytest.raises(CsrError, match="PEM block type must be CERTIFICATE REQUEST"):
        check_csr(b"")
    certificate = new_certificate_authority().certificate_pem()
    with pytest.raises(CsrError, match="PEM block type must be CERTIFICATE REQUEST"):
        check_csr(certificate + request())


def test_a_tampered_signature_is_refused() -> None:
    block = pem_blocks(request())[0]
    der = bytearray(block.der)
    der[-3] ^= 0xFF
    body = base64.encodebytes(bytes(der))
    tampered = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + b"-----END CERTIFICATE REQUEST-----\n"
    )
    with pytest.raises(CsrError, match=r"verification failure|malformed"):
        check_csr(tampered)


def test_certificate_chains_are_headerless_certificate_blocks() -> None:
    ca = new_certificate_authority()
    leaf = issue_client_certificate(ca, "u").certificate_pem()
    check_certificate_chain(b"")
    check_certificate_chain(leaf + ca.certificate_pem())
    with pytest.raises(CsrError, match="at least one CERTIFICATE PEM block"):
        check_certificate_chain(b"garbage")
    with pytest.raises(
        CsrError, match='only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"'
    ):
        check_certificate_chain(leaf + request())
    with_headers = leaf.replace(b"-----\n", b"-----\nProc-Type: 4,ENCRYPTED\n\n", 1)
    with pytest.raises(CsrError, match="no PEM block headers are permitted"):
        check_certificate_chain(with_headers)


def test_usages_map_to_key_usage_and_extended_key_usage() -> None:
    key_usage, extended = key_usage_extensions(
        ["digital signature", "key encipherment", "client auth", "server auth", "client auth"]
    )
    assert key_usage.digital_signature and key_usage.key_encipherment
    assert not key_usage.key_cert_sign
    assert extended is not None
    assert list(extended) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    _key_usage, none = key_usage_extensions(["signing"])
    assert none is None
    assert isinstance(key_usage, x509.KeyUsage)
