"""Raw HTTPS against a running API server, as an admin or with no credentials at all.

The tests that need exact bytes, headers and status codes (bad input, the
fuzz test) talk to the server with aiohttp instead of a Kubernetes client:
clients rewrite or hide exactly what those tests look at.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from pynetes.apiserver.app import RunningServer
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.storage import Store

#: Upstream's Status key order (metav1.Status as encoding/json writes it).
STATUS_KEYS = ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]


def tls_context(server: RunningServer, workdir: Path, *, admin: bool = True) -> ssl.SSLContext:
    """Trusts the cluster CA; with ``admin``, presents a system:masters client certificate.

    The key pair is written under ``workdir`` because the ssl module loads
    client certificates only from files.
    """
    pki = Pki(server.pki_dir)
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if admin:
        pair = issue_client_certificate(pki.load_ca(), "kubernetes-admin", ["system:masters"])
        cert, key = workdir / "admin.crt", workdir / "admin.key"
        cert.write_bytes(pair.certificate_pem())
        key.write_bytes(pair.key_pem())
        key.chmod(0o600)
        context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def session(
    server: RunningServer, workdir: Path, *, admin: bool = True
) -> AsyncIterator[aiohttp.ClientSession]:
    """A session whose relative URLs go to ``server``; nothing is added to what tests send.

    aiohttp adds neither a Content-Type nor an Accept of its own to a raw
    ``data=`` body, so each test states every header the server sees.
    """
    connector = aiohttp.TCPConnector(ssl=tls_context(server, workdir, admin=admin))
    async with aiohttp.ClientSession(
        base_url=server.url,
        connector=connector,
        skip_auto_headers=("Content-Type", "User-Agent"),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as client:
        yield client


def assert_status(
    body: bytes, code: int, reason: str, *, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``body`` is a Failure Status with ``code`` and ``reason``, keys in upstream's order.

    Its ``metadata`` is empty unless given (an expired list's carries a continue token).
    """
    status = orjson.loads(body)
    expected_keys = [key for key in STATUS_KEYS if key != "details" or "details" in status]
    assert list(status.keys()) == expected_keys, body
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", body
    assert status["metadata"] == (metadata or {}) and status["status"] == "Failure", body
    assert (status["code"], status["reason"]) == (code, reason), body
    return status


#: The store's revision, and every key with its value and revision.
Snapshot = tuple[int, list[tuple[str, bytes, int]]]


async def store_snapshot(store: Store) -> Snapshot:
    """Everything the server stored, to compare before and after a request."""
    page = await store.list("/registry/")
    return page.revision, [(kv.key, kv.value, kv.mod_revision) for kv in page.items]
