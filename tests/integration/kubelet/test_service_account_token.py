"""A pod's service account token volume, written by a real kubelet: in-cluster credentials."""

from __future__ import annotations

from pathlib import Path

import jwt

from pynetes.client.rest import ApiClient
from pynetes.pki.certificates import Pki
from tests.integration.conftest import Cluster
from tests.integration.kubelet.agent import (
    PODS,
    phase_is,
    pod,
    running_kubelet,
    shell,
    wait_for_deletion,
    wait_for_pod,
)
from tests.integration.test_service_account_tokens import refused

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


async def test_a_pod_reads_a_token_of_its_account_bound_to_it(
    cluster: Cluster, api: ApiClient, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = shell("app", f"cp {MOUNT}/token {MOUNT}/ca.crt {MOUNT}/namespace {out}; sleep 3600")
    async with running_kubelet(cluster, api, tmp_path / "kubelet"):
        created = await api.create(PODS, pod("reader", app))
        await wait_for_pod(api, "reader", phase_is("Running"))
        assert (out / "namespace").read_text() == "default"
        assert (out / "ca.crt").read_bytes() == Pki(cluster.server.pki_dir).ca_cert.read_bytes()
        token = (out / "token").read_text()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == "system:serviceaccount:default:default"
        assert claims["exp"] - claims["iat"] == 3607
        assert claims["kubernetes.io"]["pod"] == {
            "name": "reader",
            "uid": created["metadata"]["uid"],
        }
        assert claims["kubernetes.io"]["node"]["name"] == "node-1"
        assert not await refused(api, token)
        await api.delete(PODS, "reader", namespace="default")
        await wait_for_deletion(api, "reader")
        assert await refused(api, token)
