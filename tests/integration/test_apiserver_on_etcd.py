"""The API server on the etcd backend: the same API, with etcd's revisions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pynetes.apiserver.app import ServerOptions, start
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from pynetes.storage.etcd.process import EtcdCluster
from tests.conftest import require_tool
from tests.integration.conftest import Kubectl, free_port
from tests.integration.test_kubectl import DEPLOYMENT


@pytest.fixture
async def kubectl_on_etcd(tmp_path: Path) -> AsyncIterator[Kubectl]:
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
        yield Kubectl(require_tool("kubectl"), config)
    finally:
        await server.stop()
        await etcd.stop()


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
