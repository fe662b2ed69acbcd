"""Kubelet TLS bootstrap: a node gets its client certificate through the certificates API.

As upstream's ``--bootstrap-kubeconfig``: when the kubelet's kubeconfig is
missing, unreadable, or holds no client certificate still valid, the kubelet
uses the bootstrap kubeconfig's credentials (a bootstrap token, or any user)
to create a CertificateSigningRequest for ``CN=system:node:<node>,
O=system:nodes`` (an ECDSA P-256 key, signer
``kubernetes.io/kube-apiserver-client-kubelet``, usages digital signature and
client auth), waits until it is issued (the csrapproving and csrsigning
controllers do that for bootstrappers), and writes:

- ``<root-dir>/pki/kubelet-client-current.pem``: the certificate and its key
  in one file, mode 0600, as upstream's certificate store keeps them;
- the kubeconfig: the bootstrap kubeconfig's server and CA, and a user whose
  ``client-certificate`` and ``client-key`` are that file.

The new key waits in ``<root-dir>/pki/kubelet-client.key.tmp`` until the
certificate comes, so a kubelet restarted meanwhile asks again with the same
key, under the same request name (upstream names the request after a digest
of the key, subject and usages), and finds its request instead of making a
second one. Nothing here logs a key or a token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import ClientConfig, ConfigError, load_kubeconfig
from pynetes.client.rest import ApiClient
from pynetes.client.watch import ADDED, DELETED, MODIFIED, watch
from pynetes.pki.certificates import private_key_pem, write_atomically
from pynetes.pki.csr import CsrError, check_csr, new_csr_pem
from pynetes.pki.kubeconfig import write_kubeconfig

log = logging.getLogger(__name__)

Object = dict[str, Any]
Clock = Callable[[], float]

CSRS = built_in("certificates.k8s.io", "v1", "certificatesigningrequests")
SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
USAGES = ("digital signature", "client auth")
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
CLIENT_CERT_FILE = "kubelet-client-current.pem"
PENDING_KEY_FILE = "kubelet-client.key.tmp"
#: How long the kubelet waits for its certificate (upstream: an hour).
DEFAULT_TIMEOUT = 3600.0
#: Each watch is this long; a break or an end starts the next from a fresh read.
_WATCH_SECONDS = 300


class BootstrapError(Exception):
    """The node's certificate cannot be had: the request was denied, failed or removed."""


@dataclass(frozen=True)
class BootstrapPaths:
    """Where the bootstrap reads and writes."""

    kubeconfig: Path
    bootstrap_kubeconfig: Path
    cert_dir: Path

    @property
    def client_cert(self) -> Path:
        return self.cert_dir / CLIENT_CERT_FILE

    @property
    def pending_key(self) -> Path:
        return self.cert_dir / PENDING_KEY_FILE


async def load_client_certificate(
    kubeconfig: Path | str,
    bootstrap_kubeconfig: Path | str,
    root_dir: Path | str,
    node_name: str,
    *,
    clock: Clock = time.time,
    give_up_after: float = DEFAULT_TIMEOUT,
) -> bool:
    """Make sure ``kubeconfig`` authenticates this node, bootstrapping it if need be.

    Returns False when ``kubeconfig`` already holds a client certificate
    valid at ``clock()`` (nothing is done), True once a new certificate and
    kubeconfig are written. Raises :class:`BootstrapError` when the request
    is denied, fails or disappears, TimeoutError after ``give_up_after`` seconds,
    and the client's errors when the bootstrap credentials are refused.
    """
    paths = BootstrapPaths(Path(kubeconfig), Path(bootstrap_kubeconfig), Path(root_dir) / "pki")
    if client_config_still_valid(paths.kubeconfig, clock()):
        return False
    log.info(
        "using bootstrap kubeconfig %s to get a client certificate for node %s",
        paths.bootstrap_kubeconfig,
        node_name,
    )
    bootstrap = load_kubeconfig(paths.bootstrap_kubeconfig)
    paths.cert_dir.mkdir(parents=True, exist_ok=True)
    key = _pending_key(paths.pending_key)
    async with ApiClient(bootstrap) as client:
        certificate = await request_node_certificate(
            client, key, node_name, give_up_after=give_up_after
        )
    write_atomically(paths.client_cert, certificate + private_key_pem(key), mode=0o600)
    paths.pending_key.unlink(missing_ok=True)
    write_kubeconfig(paths.kubeconfig, node_kubeconfig(bootstrap, paths.client_cert))
    log.info("wrote the client certificate %s and kubeconfig %s", paths.client_cert, kubeconfig)
    return True


def client_config_still_valid(kubeconfig: Path, now: float) -> bool:
    """Whether ``kubeconfig`` exists, loads, and every client certificate in it is
    unexpired at ``now`` (upstream's isClientConfigStillValid; none at all is not valid)."""
    if not kubeconfig.exists():
        return False
    try:
        certificates = x509.load_pem_x509_certificates(
            load_kubeconfig(kubeconfig).client_cert_pem or b""
        )
    except (ConfigError, OSError, ValueError) as error:
        log.warning("unable to use the existing kubeconfig %s: %s", kubeconfig, error)
        return False
    moment = datetime.fromtimestamp(now, UTC)
    for certificate in certificates:
        if moment > certificate.not_valid_after_utc:
            log.info("the client certificate in %s is expired", kubeconfig)
            return False
    return bool(certificates)


def node_kubeconfig(bootstrap: ClientConfig, client_cert: Path) -> Object:
    """The kubelet's kubeconfig: the bootstrap's cluster, the node's certificate file
    (upstream's writeKubeconfigFromBootstrapping, its names included)."""
    cluster: Object = {"server": bootstrap.server}
    if bootstrap.ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(bootstrap.ca_pem).decode()
    if bootstrap.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if bootstrap.tls_server_name:
        cluster["tls-server-name"] = bootstrap.tls_server_name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": "default",
                    "user": "default-auth",
                },
            }
        ],
        "current-context": "default-context",
        "users": [
            {
                "name": "default-auth",
                "user": {"client-certificate": str(client_cert), "client-key": str(client_cert)},
            }
        ],
    }


def request_name(key: ec.EllipticCurvePrivateKey, node_name: str) -> str:
    """``node-csr-<digest>``: the same key, subject and usages always give the same name
    (upstream's digestedName: SHA-512/256 over each part base64url'd, ``|``-delimited)."""
    digest = hashes.Hash(hashes.SHA512_256())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for part in (public, (NODE_USER_PREFIX + node_name).encode(), NODES_GROUP.encode()):
        digest.update(_raw_url_b64(part).encode() + b"|")
    for usage in USAGES:
        digest.update(_raw_url_b64(usage.encode()).encode() + b"|")
    return "node-csr-" + _raw_url_b64(digest.finalize())


async def request_node_certificate(
    client: ApiClient,
    key: ec.EllipticCurvePrivateKey,
    node_name: str,
    *,
    give_up_after: float = DEFAULT_TIMEOUT,
) -> bytes:
    """Create (or find) the node's CertificateSigningRequest and wait for its certificate."""
    request = new_csr_pem(key, NODE_USER_PREFIX + node_name, (NODES_GROUP,))
    name = request_name(key, node_name)
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(request).decode(),
            "signerName": SIGNER,
            "usages": list(USAGES),
        },
    }
    try:
        created = await client.create(CSRS, body)
    except errors.AlreadyExists:
        created = await client.get(CSRS, name)
        _ensure_compatible(created, key, node_name)
    log.info("created certificate signing request %s for node %s", name, node_name)
    async with asyncio.timeout(give_up_after):
        return await wait_for_certificate(client, name, created["metadata"]["uid"])


async def wait_for_certificate(client: ApiClient, name: str, uid: str) -> bytes:
    """The issued certificate of request ``name``, followed by a watch; raises
    :class:`BootstrapError` when it is denied, failed, deleted or replaced."""
    selector = f"metadata.name={name}"
    reported = ""
    while True:
        listing = await client.list(CSRS, field_selector=selector)
        events: list[tuple[str, Object]] = [(ADDED, item) for item in listing["items"]]
        if not events:
            raise BootstrapError(f"certificate signing request {name} was deleted")
        version = listing["metadata"].get("resourceVersion")
        stream = _events(client, selector, version, events)
        with contextlib.suppress(errors.TransportError, errors.Gone):
            async with contextlib.aclosing(stream):
                async for kind, csr in stream:
                    if kind == DELETED:
                        raise BootstrapError(f"certificate signing request {name} was deleted")
                    certificate, state = judge(csr, uid)
                    if certificate:
                        return certificate
                    if state != reported:
                        log.info("certificate signing request %s is %s", name, state)
                        reported = state


async def _events(
    client: ApiClient, selector: str, version: str | None, first: list[tuple[str, Object]]
) -> AsyncIterator[tuple[str, Object]]:
    """``first``, then what a watch from ``version`` sends."""
    for event in first:
        yield event
    stream = watch(
        client,
        CSRS,
        field_selector=selector,
        resource_version=version,
        allow_bookmarks=False,
        timeout_seconds=_WATCH_SECONDS,
    )
    async with contextlib.aclosing(stream) as events:
        async for event in events:
            if event.type in (ADDED, MODIFIED, DELETED):
                yield event.type, event.object


def judge(csr: Object, uid: str) -> tuple[bytes, str]:
    """(the certificate, "") once issued; else (b"", what it waits for).

    Raises :class:`BootstrapError` for a request denied, failed, or not the
    one created (another uid under the name).
    """
    name = csr["metadata"]["name"]
    if csr["metadata"].get("uid") != uid:
        raise BootstrapError(f"certificate signing request {name} changed UIDs")
    status = csr.get("status") or {}
    approved = False
    for condition in status.get("conditions") or []:
        kind = condition.get("type")
        detail = f"reason: {condition.get('reason', '')}, message: {condition.get('message', '')}"
        if kind == "Denied":
            raise BootstrapError(f"certificate signing request {name} is denied, {detail}")
        if kind == "Failed":
            raise BootstrapError(f"certificate signing request {name} failed, {detail}")
        approved = approved or kind == "Approved"
    if not approved:
        return b"", "pending: waiting for approval (kubectl certificate approve " + name + ")"
    certificate = base64.b64decode(status.get("certificate") or "")
    if certificate:
        return certificate, ""
    return b"", "approved: waiting for the certificate to be issued"


def _ensure_compatible(existing: Object, key: ec.EllipticCurvePrivateKey, node_name: str) -> None:
    """The request found under our name must be ours: same subject, signer and key
    (upstream's ensureCompatible; ECDSA signatures differ from one signing to the next)."""
    name = existing["metadata"]["name"]
    try:
        theirs = check_csr(base64.b64decode(existing["spec"]["request"]))
    except CsrError as error:
        raise BootstrapError(f"certificate signing request {name} is unusable: {error}") from None
    ours = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, NODE_USER_PREFIX + node_name),
        ]
    )
    if theirs.subject != ours or existing["spec"].get("signerName") != SIGNER:
        raise BootstrapError(f"certificate signing request {name} is for another subject or signer")
    if theirs.public_key() != key.public_key():
        raise BootstrapError(f"certificate signing request {name} is for another key")


def _pending_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key of the pending request: the one saved by an earlier attempt, else a new one."""
    if path.exists():
        with contextlib.suppress(ValueError):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key
        log.warning("replacing the unusable pending key %s", path)
    key = ec.generate_private_key(ec.SECP256R1())
    write_atomically(path, private_key_pem(key), mode=0o600)
    return key


def _raw_url_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
