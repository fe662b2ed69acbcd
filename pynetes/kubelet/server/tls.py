"""The kubelet's serving certificate and TLS context.

As upstream: ``--tls-cert-file``/``--tls-private-key-file`` when given, else a
self-signed pair ``kubelet.crt``/``kubelet.key`` in the certificate folder
(``--cert-dir``), made once and reused (a throwaway CA named
``<host>-ca@<time>`` signs ``<host>@<time>``; the file holds both). Clients
(the API server) do not verify it unless told to trust it.

Client certificates are requested and, when offered, must chain to the
client CA (``--client-ca-file``); whether one is required is the server's
authentication decision (401), not the handshake's.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from pathlib import Path

from pynetes.pki.certificates import (
    issue_serving_certificate,
    new_certificate_authority,
    write_atomically,
)

SELF_SIGNED_CERT = "kubelet.crt"
SELF_SIGNED_KEY = "kubelet.key"


def ensure_self_signed(cert_dir: Path) -> tuple[Path, Path]:
    """The self-signed serving pair in ``cert_dir``, created when missing."""
    cert, key = cert_dir / SELF_SIGNED_CERT, cert_dir / SELF_SIGNED_KEY
    if cert.exists() and key.exists():
        return cert, key
    cert_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().lower()
    stamp = int(time.time())
    ca = new_certificate_authority(common_name=f"{host}-ca@{stamp}")
    pair = issue_serving_certificate(
        ca,
        dns_names=list(dict.fromkeys([host, "localhost"])),
        ips=[ipaddress.ip_address("127.0.0.1")],
        common_name=f"{host}@{stamp}",
    )
    write_atomically(key, pair.key_pem(), mode=0o600)
    write_atomically(cert, pair.certificate_pem() + ca.certificate_pem(), mode=0o644)
    return cert, key


def serving_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context
