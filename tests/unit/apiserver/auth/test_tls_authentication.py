"""A real HTTPS server with the PKI's TLS context, called by real clients.

The handler answers the user the authenticators prove, ``null`` for none,
and 401 for wrong credentials.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from pynetes.apiserver.auth import (
    AuthenticationError,
    BearerToken,
    ClientCertificate,
    StaticTokenFile,
    UnionAuthenticator,
)
from pynetes.pki import (
    ADMIN_USER,
    MASTERS_GROUP,
    KeyPair,
    Pki,
    ensure_pki,
    issue_client_certificate,
    issue_serving_certificate,
    kubeconfig,
    new_certificate_authority,
    write_kubeconfig,
)
from tests.conftest import FakeClock, require_tool

TOKEN = "s3cr3t-dev-token"


@dataclass
class Server:
    url: str
    handled: list[str] = field(default_factory=list)


@pytest.fixture
def pki(tmp_path) -> Pki:
    return ensure_pki(tmp_path / "pki")


@pytest.fixture
async def server(pki, tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f'{TOKEN},dev,uid-7,"developers,team-a"\n')
    # kube-apiserver's order: x509 before tokens.
    authenticator = UnionAuthenticator(
        ClientCertificate(), BearerToken(StaticTokenFile.load(tokens))
    )
    result = Server(url="")

    async def whoami(request: web.Request) -> web.Response:
        result.handled.append(request.path)
        try:
            user = await authenticator.authenticate(request)
        except AuthenticationError:
            return web.json_response({"reason": "Unauthorized"}, status=401)
        if user is None:
            return web.json_response(None)
        return web.json_response({"name": user.name, "uid": user.uid, "groups": list(user.groups)})

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_ssl_context())
    await site.start()
    result.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    yield result
    await runner.cleanup()


def client_context(pki: Pki, tmp_path: Path, pair: KeyPair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca_cert)
    if pair is not None:
        cert, key = tmp_path / "client.crt", tmp_path / "client.key"
        cert.write_bytes(pair.certificate_pem())
        key.write_bytes(pair.key_pem())
        context.load_cert_chain(cert, key)
    return context


async def whoami(server: Server, context: ssl.SSLContext, **kwargs) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + "/whoami", ssl=context, **kwargs) as response,
    ):
        return response.status, await response.json()


async def test_the_admin_client_certificate_proves_kubernetes_admin(server, pki, tmp_path):
    admin = issue_client_certificate(pki.load_ca(), ADMIN_USER, [MASTERS_GROUP])

    status, user = await whoami(server, client_context(pki, tmp_path, admin))

    assert status == 200
    assert user == {
        "name": "kubernetes-admin",
        "uid": "",
        "groups": ["system:masters", "system:authenticated"],
    }


async def test_a_bearer_token_from_the_token_file(server, pki, tmp_path):
    status, user = await whoami(
        server, client_context(pki, tmp_path), headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert status == 200
    assert user == {
        "name": "dev",
        "uid": "uid-7",
        "groups": ["developers", "team-a", "system:authenticated"],
    }


async def test_no_credentials_reach_the_handler_with_no_user(server, pki, tmp_path):
    assert await whoami(server, client_context(pki, tmp_path)) == (200, None)


async def test_a_wrong_token_is_unauthorized(server, pki, tmp_path):
    status, _ = await whoami(
        server, client_context(pki, tmp_path), headers={"Authorization": "Bearer wrong"}
    )
    assert status == 401


async def test_the_client_certificate_wins_over_a_token(server, pki, tmp_path):
    admin = issue_client_certificate(pki.load_ca(), ADMIN_USER, [MASTERS_GROUP])
    _, user = await whoami(
        server,
        client_context(pki, tmp_path, admin),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert user["name"] == "kubernetes-admin"


def foreign_client() -> KeyPair:
    return issue_client_certificate(new_certificate_authority(), ADMIN_USER, [MASTERS_GROUP])


def serving_certificate_as_client(pki: Pki) -> KeyPair:
    return issue_serving_certificate(pki.load_ca(), dns_names=["kubernetes"], ips=[])


def expired_client(pki: Pki) -> KeyPair:
    return issue_client_certificate(
        pki.load_ca(), ADMIN_USER, [MASTERS_GROUP], clock=FakeClock(1_000_000_000.0)
    )


@pytest.mark.parametrize(
    "make_certificate",
    [lambda pki: foreign_client(), serving_certificate_as_client, expired_client],
    ids=["signed-by-another-ca", "without-client-auth-usage", "expired"],
)
async def test_an_unverifiable_client_certificate_fails_the_handshake(
    server, pki, tmp_path, make_certificate
):
    # Our TLS context verifies an offered certificate, so the handshake fails.
    # kube-apiserver (RequestClientCert + its x509 authenticator) completes the
    # handshake and answers 401 instead; either way no request is served.
    context = client_context(pki, tmp_path, make_certificate(pki))

    with pytest.raises(aiohttp.ClientError):
        await whoami(server, context)
    assert server.handled == []


@pytest.mark.parametrize("hostname", ["kubernetes.default.svc", "localhost"])
async def test_clients_verify_the_server_by_its_service_names(server, pki, tmp_path, hostname):
    status, _ = await whoami(server, client_context(pki, tmp_path), server_hostname=hostname)
    assert status == 200


async def test_a_client_dialing_another_name_refuses_the_server(server, pki, tmp_path):
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await whoami(server, client_context(pki, tmp_path), server_hostname="example.com")


async def kubectl_whoami(kubeconfig_path: Path) -> object:
    """kubectl (Go's crypto/tls) against the server: proves it accepts our certificates."""
    binary = require_tool("kubectl")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--kubeconfig",
        str(kubeconfig_path),
        "get",
        "--raw",
        "/whoami",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def test_kubectl_authenticates_with_the_admin_kubeconfig(server, pki, tmp_path):
    ca = pki.load_ca()
    path = tmp_path / "admin.conf"
    admin = issue_client_certificate(ca, ADMIN_USER, [MASTERS_GROUP])
    write_kubeconfig(
        path,
        kubeconfig(server=server.url, ca_pem=ca.certificate_pem(), user=ADMIN_USER, client=admin),
    )

    user = await kubectl_whoami(path)

    assert user == {
        "name": "kubernetes-admin",
        "uid": "",
        "groups": ["system:masters", "system:authenticated"],
    }


async def test_kubectl_authenticates_with_a_token_kubeconfig(server, pki, tmp_path):
    path = tmp_path / "dev.conf"
    write_kubeconfig(
        path,
        kubeconfig(server=server.url, ca_pem=pki.ca_cert.read_bytes(), user="dev", token=TOKEN),
    )

    user = await kubectl_whoami(path)

    assert user["name"] == "dev"
