"""The API server on the etcd backend: the same API, with etcd's revisions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pynetes.api.resources import built_in
from pynetes.apiserver.app import RunningServer, ServerOptions, start
from pynetes.client.config import ClientConfig
from pynetes.client.rest import ApiClient
from pynetes.client.watch import ResumingWatcher
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from pynetes.storage.etcd.process import EtcdCluster
from tests.conftest import require_tool
from tests.integration.conftest import Kubectl, free_port
from tests.integration.test_kubectl import DEPLOYMENT

CONFIGMAPS = built_in("", "v1", "configmaps")


@pytest.fixture
async def on_etcd(tmp_path: Path) -> AsyncIterator[tuple[EtcdCluster, Kubectl]]:
    """An etcd server, an API server on it, and kubectl as an admin of that server."""
    require_tool("etcd")
    etcd = await EtcdCluster.start(tmp_path / "etcd")
    options = ServerOptions(
        data_dir=tmp_path / "data",
        secure_port=free_port(),
        storage="etcd",
        etcd_servers=etcd.endpoints,
    )
    server = await start(options)
    pki = Pki(server.pki_dir)
    admin = issue_client_certificate(pki.load_ca(), "admin", ["system:masters"])
    config = tmp_path / "kubeconfig"
    write_kubeconfig(
        config,
        kubeconfig(server=server.url, ca_pem=pki.ca_cert.read_bytes(), user="admin", client=admin),
    )
    try:
        yield etcd, Kubectl(require_tool("kubectl"), config)
    finally:
        await server.stop()
        await etcd.stop()


@pytest.fixture
async def kubectl_on_etcd(on_etcd: tuple[EtcdCluster, Kubectl]) -> Kubectl:
    return on_etcd[1]


async def test_readiness_and_liveness_follow_etcd(on_etcd: tuple[EtcdCluster, Kubectl]) -> None:
    etcd, kubectl = on_etcd
    _, out, _ = await kubectl("get", "--raw", "/readyz?verbose")
    assert out.splitlines() == [
        "[+]ping ok",
        "[+]log ok",
        "[+]etcd ok",
        "[+]etcd-readiness ok",
        "[+]shutdown ok",
        "readyz check passed",
    ]
    await etcd.stop()
    code, _, err = await kubectl("get", "--raw", "/readyz", check=False)
    assert code == 1
    assert "[-]etcd failed: reason withheld" in err and "readyz check failed" in err
    code, _, err = await kubectl("get", "--raw", "/livez?exclude=etcd", check=False)
    assert code == 0, err
    code, _, err = await kubectl("get", "--raw", "/livez/etcd", check=False)
    assert code == 1 and "internal server error" in err


async def test_kubectl_works_against_an_etcd_backed_server(
    kubectl_on_etcd: Kubectl, tmp_path: Path
) -> None:
    kubectl = kubectl_on_etcd
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(DEPLOYMENT)
    _, out, _ = await kubectl("apply", "-f", str(manifest))
    assert out.strip() == "deployment.apps/web created"
    await kubectl("scale", "deploy", "web", "--replicas=3")
    _, out, _ = await kubectl("get", "deploy", "web", "-o", "json")
    deployment = json.loads(out)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["generation"] == 2
    _, out, _ = await kubectl("get", "namespaces", "-o", "name")
    assert "namespace/kube-system" in out.split()
    await kubectl("delete", "deploy", "web", "--wait=true", "--timeout=30s")
    code, _, err = await kubectl("get", "deploy", "web", check=False)
    assert code == 1 and "not found" in err


@pytest.fixture
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[ApiClient, ApiClient]]:
    """Two API servers on one etcd, sharing one PKI, each with its own client."""
    require_tool("etcd")
    etcd = await EtcdCluster.start(tmp_path / "etcd")
    servers = []
    try:
        for name in ("a", "b"):
            options = ServerOptions(
                data_dir=tmp_path / name,
                pki_dir=tmp_path / "pki",
                secure_port=free_port(),
                storage="etcd",
                etcd_servers=etcd.endpoints,
            )
            servers.append(await start(options))
        clients = [ApiClient(_admin_config(server)) for server in servers]
        try:
            yield clients[0], clients[1]
        finally:
            for client in clients:
                await client.close()
    finally:
        for server in servers:
            await server.stop()
        await etcd.stop()


def _admin_config(server: RunningServer) -> ClientConfig:
    pki = Pki(server.pki_dir)
    admin = issue_client_certificate(pki.load_ca(), "admin", ["system:masters"])
    return ClientConfig(
        server.url,
        ca_pem=pki.ca_cert.read_bytes(),
        client_cert_pem=admin.certificate_pem(),
        client_key_pem=admin.key_pem(),
        qps=0,
    )


async def test_a_second_api_server_reads_what_the_first_wrote_at_once(
    two_servers: tuple[ApiClient, ApiClient],
) -> None:
    a, b = two_servers
    for index in range(20):  # each read through b right after the write through a
        created = await a.create(
            CONFIGMAPS, {"metadata": {"name": f"c{index}"}}, namespace="default"
        )
        got = await b.get(CONFIGMAPS, f"c{index}", namespace="default")
        assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        listed = await b.list(CONFIGMAPS, namespace="default")
        assert f"c{index}" in {item["metadata"]["name"] for item in listed["items"]}
        newer = await b.list(
            CONFIGMAPS, namespace="default", resource_version=created["metadata"]["resourceVersion"]
        )
        assert len(newer["items"]) == index + 1


async def test_a_watch_on_one_server_from_the_other_servers_version_misses_nothing(
    two_servers: tuple[ApiClient, ApiClient],
) -> None:
    a, b = two_servers
    first = await a.create(CONFIGMAPS, {"metadata": {"name": "first"}}, namespace="default")
    since = first["metadata"]["resourceVersion"]
    async with ResumingWatcher(b, CONFIGMAPS, resource_version=since, namespace="default") as seen:
        await a.create(CONFIGMAPS, {"metadata": {"name": "second"}}, namespace="default")
        async with asyncio.timeout(30):
            event = await anext(seen)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "second")
