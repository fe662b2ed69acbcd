"""PKCS#10 certificate signing requests and the PEM they travel in.

The certificates API carries a CSR in ``spec.request`` as a PEM
``CERTIFICATE REQUEST`` block and the issued chain in
``status.certificate`` as ``CERTIFICATE`` blocks. These are the pure
pieces the API server's validation, the controller manager's approver and
signer, and the kubelet's TLS bootstrap share: reading PEM as Go's
``encoding/pem`` does, parsing and checking a CSR, writing one, and the
meaning of the API's key usages.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTIFICATE_REQUEST = "CERTIFICATE REQUEST"
CERTIFICATE = "CERTIFICATE"

#: Every key usage the API accepts (upstream's certificates.KeyUsage values).
KEY_USAGES = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)

#: API usage -> the x509.KeyUsage flag it sets (upstream's keyUsageDict).
_KEY_USAGE_FLAGS = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}

#: API usage -> the extended key usage it adds (upstream's extKeyUsageDict).
_EXTENDED_KEY_USAGES = {
    "any": x509.ObjectIdentifier("2.5.29.37.0"),
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}

_BLOCK = re.compile(
    rb"-----BEGIN ([^\r\n]*?)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_HEADER = re.compile(rb"^[^\s:][^:\r\n]*:")


class CsrError(ValueError):
    """A CSR or certificate that cannot be used; the message is upstream's wording."""


@dataclass(frozen=True)
class PemBlock:
    type: str
    has_headers: bool
    der: bytes


def pem_blocks(data: bytes) -> list[PemBlock]:
    """The PEM blocks in ``data``, in order, as Go's ``pem.Decode`` loop finds them.

    Text around blocks is skipped; a block whose body is not base64 is
    skipped too (Go's decoder moves past it and looks for the next).
    """
    blocks = []
    for match in _BLOCK.finditer(data):
        lines = match.group(2).splitlines()
        has_headers = bool(lines) and _HEADER.match(lines[0]) is not None
        if has_headers:
            blank = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
            lines = lines[blank + 1 :]
        try:
            der = base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
        except (binascii.Error, ValueError):
            continue
        blocks.append(PemBlock(match.group(1).decode("latin-1"), has_headers, der))
    return blocks


def parse_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """The CSR in the first PEM block of ``pem`` (upstream's ``ParseCSR``)."""
    blocks = pem_blocks(pem)
    if not blocks or blocks[0].type != CERTIFICATE_REQUEST:
        raise CsrError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return x509.load_der_x509_csr(blocks[0].der)
    except ValueError:
        raise CsrError("x509: malformed certificate request") from None


def check_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """The parsed CSR, once its signature verifies with its own public key."""
    request = parse_csr(pem)
    try:
        valid = request.is_signature_valid
    except (ValueError, TypeError, InvalidSignature):
        valid = False
    if not valid:
        key = request.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            raise CsrError("crypto/rsa: verification error")
        if isinstance(key, ec.EllipticCurvePublicKey):
            raise CsrError("x509: ECDSA verification failure")
        raise CsrError("x509: signature verification failure")
    return request


def check_certificate_chain(pem: bytes) -> None:
    """``status.certificate``: one or more headerless CERTIFICATE blocks that parse.

    Empty data is fine (no certificate yet). Upstream's validateCertificate.
    """
    if not pem:
        return
    blocks = pem_blocks(pem)
    for block in blocks:
        if block.type != CERTIFICATE:
            raise CsrError(f'only CERTIFICATE PEM blocks are allowed, found "{block.type}"')
        if block.has_headers:
            raise CsrError("no PEM block headers are permitted")
        try:
            x509.load_der_x509_certificate(block.der)
        except ValueError:
            raise CsrError("x509: malformed certificate") from None
    if not blocks:
        raise CsrError("must contain at least one CERTIFICATE PEM block")


def new_csr_pem(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    common_name: str,
    organizations: Sequence[str] = (),
) -> bytes:
    """A PEM CSR for subject ``O=<organizations>, CN=<common_name>``, signed by ``key``."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def key_usage_extensions(
    usages: Iterable[str],
) -> tuple[x509.KeyUsage, x509.ExtendedKeyUsage | None]:
    """The KeyUsage and ExtendedKeyUsage a certificate for ``usages`` carries.

    Unknown usages are ignored, as upstream's signer ignores them (validation
    refused them before anything was stored).
    """
    flags = {flag: False for flag in set(_KEY_USAGE_FLAGS.values())}
    extended: list[x509.ObjectIdentifier] = []
    for usage in usages:
        if usage in _KEY_USAGE_FLAGS:
            flags[_KEY_USAGE_FLAGS[usage]] = True
        elif usage in _EXTENDED_KEY_USAGES and _EXTENDED_KEY_USAGES[usage] not in extended:
            extended.append(_EXTENDED_KEY_USAGES[usage])
    if not flags["key_agreement"]:
        # Go writes these bits regardless; X.509 (and cryptography) ties them to key agreement.
        flags["encipher_only"] = flags["decipher_only"] = False
    key_usage = x509.KeyUsage(**flags)  # type: ignore[arg-type]
    return key_usage, (x509.ExtendedKeyUsage(extended) if extended else None)


def subject_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    """The values of one attribute of a subject, in order (e.g. every O)."""
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def requested_sans(request: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName:
    """The subject alternative names a CSR asks for (none: an empty list)."""
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return x509.SubjectAlternativeName([])
