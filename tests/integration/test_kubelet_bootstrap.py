"""Kubelet TLS bootstrap against the real API server and the real certificate controllers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.kubelet.bootstrap import BootstrapError, load_client_certificate
from pynetes.pki.certificates import Pki
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from tests.integration.components import environment, pynetes, run_cli
from tests.integration.conftest import (
    BOOTSTRAPPER_TOKEN,
    Cluster,
    api_server_with_bootstrapper,
)
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.test_certificates import csr
from tests.integration.kubelet.test_kubelet_process import write_config

CSRS = built_in("certificates.k8s.io", "v1", "certificatesigningrequests")
NODES = built_in("", "v1", "nodes")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with api_server_with_bootstrapper(tmp_path) as running:
        yield running


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


@pytest.fixture
def bootstrap_kubeconfig(cluster: Cluster, tmp_path: Path) -> Path:
    path = tmp_path / "bootstrap-kubelet.conf"
    config = kubeconfig(
        server=cluster.server.url,
        ca_pem=Pki(cluster.server.pki_dir).ca_cert.read_bytes(),
        user="tls-bootstrap-token-user",
        token=BOOTSTRAPPER_TOKEN,
    )
    write_kubeconfig(path, config)
    return path


async def test_a_new_node_gets_a_kubeconfig_that_authenticates_it(
    cluster: Cluster, api: ApiClient, bootstrap_kubeconfig: Path, tmp_path: Path
) -> None:
    kubelet_conf, root = tmp_path / "kubelet.conf", tmp_path / "kubelet"
    pki = Pki(cluster.server.pki_dir)
    signing = {"cluster_signing_cert_file": pki.ca_cert, "cluster_signing_key_file": pki.ca_key}
    async with running_controllers(api, "csrapproving", "csrsigning", **signing):
        assert await load_client_certificate(kubelet_conf, bootstrap_kubeconfig, root, "n1")
    combined = root / "pki" / "kubelet-client-current.pem"
    assert stat.S_IMODE(combined.stat().st_mode) == 0o600
    assert stat.S_IMODE(kubelet_conf.stat().st_mode) == 0o600
    text = combined.read_text()
    assert "BEGIN CERTIFICATE" in text and "PRIVATE KEY" in text
    assert not (root / "pki" / "kubelet-client.key.tmp").exists()
    [request] = (await api.list(CSRS))["items"]
    assert request["metadata"]["name"].startswith("node-csr-")
    assert request["spec"]["username"] == "system:bootstrap:abcdef"

    # who the new kubeconfig is: the server records the requester of a CSR
    async with ApiClient(dataclasses.replace(load_config(kubelet_conf), qps=0)) as as_node:
        mine = await as_node.create(CSRS, csr("whoami", common_name="system:node:n1"))
    assert mine["spec"]["username"] == "system:node:n1"
    assert "system:nodes" in mine["spec"]["groups"]
    # real kubectl reads the kubeconfig and its certificate file
    _, out, _ = await cluster.kubectl()("--kubeconfig", str(kubelet_conf), "get", "csr", "whoami")
    assert "system:node:n1" in out
    # still valid: a second start changes nothing
    assert not await load_client_certificate(kubelet_conf, bootstrap_kubeconfig, root, "n1")


async def test_a_denied_request_fails_the_bootstrap_clearly(
    cluster: Cluster,
    api: ApiClient,
    bootstrap_kubeconfig: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kubelet_conf, root = tmp_path / "kubelet.conf", tmp_path / "kubelet"
    with caplog.at_level(logging.INFO, logger="pynetes.kubelet.bootstrap"):
        attempt = asyncio.create_task(
            load_client_certificate(kubelet_conf, bootstrap_kubeconfig, root, "n1")
        )

        async def requested() -> str | None:
            items = (await api.list(CSRS))["items"]
            pending = any("pending: waiting for approval" in r.getMessage() for r in caplog.records)
            return items[0]["metadata"]["name"] if items and pending else None

        name = await eventually(requested)
        await cluster.kubectl()("certificate", "deny", name)
        with pytest.raises(BootstrapError, match=f"{name} is denied"):
            await attempt
    assert not kubelet_conf.exists()
    # the key is kept: the next attempt asks under the same name, and is told again
    with pytest.raises(BootstrapError, match=f"{name} is denied"):
        await load_client_certificate(kubelet_conf, bootstrap_kubeconfig, root, "n1")


async def test_the_kubelet_process_bootstraps_then_registers_its_node(
    cluster: Cluster, api: ApiClient, bootstrap_kubeconfig: Path, tmp_path: Path
) -> None:
    kubelet_conf, root = tmp_path / "kubelet.conf", tmp_path / "kubelet"
    config, _healthz = write_config(tmp_path)
    pki = Pki(cluster.server.pki_dir)
    signing = {"cluster_signing_cert_file": pki.ca_cert, "cluster_signing_key_file": pki.ca_key}
    log = tmp_path / "kubelet.log"
    async with running_controllers(api, "csrapproving", "csrsigning", **signing):
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                *pynetes("kubelet", "--bootstrap-kubeconfig", str(bootstrap_kubeconfig)),
                *("--kubeconfig", str(kubelet_conf), "--node-name", "boot-node"),
                *("--root-dir", str(root), "--config", str(config)),
                stdout=output,
                stderr=output,
                env=environment(),
            )
        try:
            node = await eventually(lambda: _node(api, "boot-node"))
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
    assert kubelet_conf.exists()
    assert node["metadata"]["name"] == "boot-node"
    assert "created certificate signing request node-csr-" in log.read_text()


async def test_refused_bootstrap_credentials_stop_the_kubelet(
    cluster: Cluster, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-bootstrap.conf"
    ca = Pki(cluster.server.pki_dir).ca_cert.read_bytes()
    write_kubeconfig(
        bad, kubeconfig(server=cluster.server.url, ca_pem=ca, user="u", token="wrong.token")
    )
    code, _, err = await run_cli(
        "kubelet",
        *("--bootstrap-kubeconfig", str(bad), "--kubeconfig", str(tmp_path / "kubelet.conf")),
        *("--root-dir", str(tmp_path / "kubelet"), "--node-name", "n1"),
    )
    assert code == 1
    assert "TLS bootstrap failed" in err and "Unauthorized" in err
    assert "wrong.token" not in err


async def _node(api: ApiClient, name: str) -> dict[str, object] | None:
    try:
        return await api.get(NODES, name)
    except errors.NotFound:
        return None
