"""The cluster's certificates, laid out as kubeadm lays out ``/etc/kubernetes/pki``.

``ca.crt``/``ca.key``
    The cluster CA (CN ``kubernetes``, 10 years). Clients trust it through the
    kubeconfig's ``certificate-authority-data``; the API server trusts client
    certificates it signed.
``apiserver.crt``/``apiserver.key``
    The API server's serving certificate (CN ``kube-apiserver``, 1 year, as
    kubeadm), valid for every name a client may dial: ``kubernetes``,
    ``kubernetes.default``, ``...svc``, ``...svc.<cluster domain>``,
    ``localhost``, the host name, ``127.0.0.1`` and the first IP of the
    service range (the ``kubernetes`` Service's ClusterIP).
``sa.key``/``sa.pub``
    The service-account token signing key pair (RSA 2048, as kubeadm, so that
    tokens are RS256: every JWT verifier accepts it).

TLS keys are ECDSA P-256 (kubeadm's ``ECDSA-P256`` encryption algorithm):
Go's crypto/tls (kubectl) and OpenSSL (Python's ssl) both accept them, and
they are generated and used far faster than RSA. Keys are written with mode
0600, atomically, and are never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

CA_COMMON_NAME = "kubernetes"
SERVING_COMMON_NAME = "kube-apiserver"
#: The user kubeadm's admin.conf authenticates as, and its group (always allowed).
ADMIN_USER = "kubernetes-admin"
MASTERS_GROUP = "system:masters"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"

CA_VALIDITY = timedelta(days=3650)
LEAF_VALIDITY = timedelta(days=365)
#: NotBefore lies this far in the past, so a peer whose clock is slightly behind
#: accepts a certificate issued a moment ago (kubeadm's CertificateBackdate).
BACKDATE = timedelta(minutes=5)

Clock = Callable[[], float]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Keys this module creates are ECDSA; an existing RSA CA (kubeadm's default) is used as it is.
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PkiError(Exception):
    """The PKI directory holds files that cannot be used as they are."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key (never shown in ``repr``)."""

    certificate: x509.Certificate
    key: PrivateKey = field(repr=False)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return private_key_pem(self.key)


def new_certificate_authority(
    *, common_name: str = CA_COMMON_NAME, clock: Clock = time.time
) -> KeyPair:
    """A self-signed CA certificate and its new key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now(clock)
    certificate = (
        _builder(name, key.public_key(), now, CA_VALIDITY)
        .issuer_name(name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(certificate, key)


def issue_serving_certificate(
    ca: KeyPair,
    *,
    dns_names: Sequence[str],
    ips: Sequence[IPAddress],
    common_name: str = SERVING_COMMON_NAME,
    clock: Clock = time.time,
) -> KeyPair:
    """A TLS server certificate (serverAuth) valid for the given names and IPs."""
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ip) for ip in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _issue_leaf(
        ca,
        subject,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.SubjectAlternativeName(sans)],
        clock,
    )


def issue_client_certificate(
    ca: KeyPair, user: str, groups: Sequence[str] = (), *, clock: Clock = time.time
) -> KeyPair:
    """A TLS client certificate (clientAuth): subject CN is the user, each O a group.

    This is how kube-apiserver's x509 authenticator reads a client
    certificate, e.g. ``kubernetes-admin`` in ``system:masters``.
    """
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    return _issue_leaf(ca, x509.Name(attributes), ExtendedKeyUsageOID.CLIENT_AUTH, [], clock)


def serving_names(
    *,
    hosts: Iterable[str] = (),
    ips: Iterable[str] = (),
    service_cidr: str = DEFAULT_SERVICE_CIDR,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> tuple[list[str], list[IPAddress]]:
    """The DNS names and IPs the serving certificate must cover, without duplicates.

    A host that parses as an IP address counts as an IP, as kubeadm treats
    its ``certSANs``.
    """
    dns = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
        "localhost",
        socket.gethostname().lower(),
    ]
    addresses: list[IPAddress] = [
        ipaddress.ip_address("127.0.0.1"),
        first_service_ip(service_cidr),
    ]
    addresses += [ipaddress.ip_address(ip) for ip in ips]
    for host in hosts:
        try:
            addresses.append(ipaddress.ip_address(host))
        except ValueError:
            dns.append(host)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(addresses))


def first_service_ip(service_cidr: str) -> IPAddress:
    """The ClusterIP of the ``kubernetes`` Service: the range's first host address."""
    network = ipaddress.ip_network(service_cidr)
    return network.network_address + 1


@dataclass(frozen=True)
class Pki:
    """A PKI directory: the paths of its files, and loaders for the API server."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.directory / "sa.pub"

    def load_ca(self) -> KeyPair:
        """The CA, to sign client certificates (e.g. for a kubeconfig)."""
        return load_pair(self.ca_cert, self.ca_key)

    def server_ssl_context(self) -> ssl.SSLContext:
        return server_ssl_context(
            cert_file=self.serving_cert, key_file=self.serving_key, client_ca_file=self.ca_cert
        )


def ensure_pki(
    directory: Path | str,
    *,
    hosts: Iterable[str] = (),
    ips: Iterable[str] = (),
    service_cidr: str = DEFAULT_SERVICE_CIDR,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    clock: Clock = time.time,
) -> Pki:
    """Create what is missing in a PKI directory and reuse what is there.

    The CA is created only when both its files are missing: an existing CA
    is never replaced, because every kubeconfig and client certificate
    trusts it. The serving certificate is (re)issued when it is missing,
    expired, not signed by the CA, or does not cover a requested name or IP
    (e.g. a new ``--advertise-address``); clients only trust the CA, so
    reissuing it breaks nobody. The service-account key is created when
    missing (which invalidates tokens signed with a lost key; nothing else
    can be done) and its public half is derived when missing.
    """
    pki = Pki(Path(directory))
    pki.directory.mkdir(parents=True, exist_ok=True)
    ca = _ensure_ca(pki, clock)
    dns_names, addresses = serving_names(
        hosts=hosts, ips=ips, service_cidr=service_cidr, cluster_domain=cluster_domain
    )
    _ensure_serving(pki, ca, dns_names, addresses, clock)
    _ensure_service_account_key(pki)
    return pki


def server_ssl_context(*, cert_file: Path, key_file: Path, client_ca_file: Path) -> ssl.SSLContext:
    """The API server's TLS context: serves ``cert_file``, verifies client certificates.

    A client certificate is optional (``CERT_OPTIONAL``), so bearer tokens
    and anonymous health checks still work; one that is offered must chain
    to ``client_ca_file`` and carry the clientAuth usage, or the handshake
    fails. (kube-apiserver instead requests the certificate without
    verifying it in TLS, and its x509 authenticator answers 401 for an
    untrusted one; Python's ssl has no "request but do not verify" mode.)
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(cafile=client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole.

    The file has exactly ``mode`` from its creation on (a key is never
    readable by others, not even for a moment).
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _ensure_ca(pki: Pki, clock: Clock) -> KeyPair:
    present = [path.exists() for path in (pki.ca_cert, pki.ca_key)]
    if all(present):
        return pki.load_ca()
    if any(present):
        raise PkiError(
            f"{pki.ca_cert} and {pki.ca_key} must both exist or both be missing;"
            " restore the missing one or remove both to create a new cluster CA"
        )
    ca = new_certificate_authority(clock=clock)
    _write_pair(pki.ca_cert, pki.ca_key, ca)
    log.info("created the cluster CA in %s", pki.ca_cert)
    return ca


def _ensure_serving(
    pki: Pki, ca: KeyPair, dns_names: list[str], addresses: list[IPAddress], clock: Clock
) -> None:
    if pki.serving_cert.exists() and pki.serving_key.exists():
        try:
            existing = load_pair(pki.serving_cert, pki.serving_key)
        except (ValueError, PkiError):
            log.warning("replacing %s: unreadable or not matching its key", pki.serving_cert)
        else:
            if _serves(existing, ca, dns_names, addresses, _now(clock)):
                return
    serving = issue_serving_certificate(ca, dns_names=dns_names, ips=addresses, clock=clock)
    _write_pair(pki.serving_cert, pki.serving_key, serving)
    log.info("issued the API server certificate %s", pki.serving_cert)


def _serves(
    pair: KeyPair,
    ca: KeyPair,
    dns_names: list[str],
    addresses: list[IPAddress],
    now: datetime,
) -> bool:
    """Whether a serving certificate can still be used as it is."""
    certificate = pair.certificate
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        return False
    try:
        certificate.verify_directly_issued_by(ca.certificate)
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return set(dns_names) <= set(sans.get_values_for_type(x509.DNSName)) and set(addresses) <= set(
        sans.get_values_for_type(x509.IPAddress)
    )


def _ensure_service_account_key(pki: Pki) -> None:
    if pki.service_account_key.exists():
        key = serialization.load_pem_private_key(
            pki.service_account_key.read_bytes(), password=None
        )
        if pki.service_account_public_key.exists():
            return
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_atomically(pki.service_account_key, private_key_pem(key), mode=0o600)
        log.info("created the service-account signing key %s", pki.service_account_key)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomically(pki.service_account_public_key, public, mode=0o644)


def _issue_leaf(
    ca: KeyPair,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    extensions: list[x509.ExtensionType],
    clock: Clock,
) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, key.public_key(), _now(clock), LEAF_VALIDITY)
        .issuer_name(ca.certificate.subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(authority_key_id(ca), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return KeyPair(builder.sign(ca.key, hashes.SHA256()), key)


def authority_key_id(ca: KeyPair) -> x509.AuthorityKeyIdentifier:
    """The CA's own key identifier when it has one: OpenSSL finds a certificate's
    issuer by matching this against the CA's SubjectKeyIdentifier."""
    try:
        ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _builder(
    subject: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime, validity: timedelta
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
    )


def _key_usage(*, key_cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def private_key_pem(key: PrivateKey) -> bytes:
    """PEM as kubeadm writes keys: ``EC PRIVATE KEY`` / ``RSA PRIVATE KEY``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _write_pair(cert_path: Path, key_path: Path, pair: KeyPair) -> None:
    """Key first, so a certificate on disk always has its key beside it."""
    write_atomically(key_path, pair.key_pem(), mode=0o600)
    write_atomically(cert_path, pair.certificate_pem(), mode=0o644)


def load_pair(cert_path: Path, key_path: Path) -> KeyPair:
    """A certificate and its key from PEM files (PkiError when the key is not the certificate's)."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, PrivateKey) or key.public_key() != certificate.public_key():
        raise PkiError(f"{key_path} is not the private key of {cert_path}")
    return KeyPair(certificate, key)
