"""csrapproving and csrsigning against the real API server."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pynetes.client.config import ClientConfig
from pynetes.client.rest import ApiClient
from pynetes.controllermanager.common.certificates import CSRS
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.csr import new_csr_pem
from tests.integration.conftest import (
    Cluster,
    api_server_with_bootstrapper,
    bootstrapper_client,
)
from tests.integration.controllers.harness import (
    WallClock,
    eventually,
    processed,
    running_controllers,
)

Object = dict[str, Any]

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with api_server_with_bootstrapper(tmp_path) as running:
        yield running


def signing_options(cluster: Cluster) -> dict[str, Any]:
    pki = Pki(cluster.server.pki_dir)
    return {"cluster_signing_cert_file": pki.ca_cert, "cluster_signing_key_file": pki.ca_key}


def csr(
    name: str,
    common_name: str = "system:node:n1",
    orgs: tuple[str, ...] = ("system:nodes",),
    signer: str = KUBELET_CLIENT,
    usages: tuple[str, ...] = ("digital signature", "client auth"),
    **spec: Any,
) -> Object:
    key = ec.generate_private_key(ec.SECP256R1())
    request = base64.b64encode(new_csr_pem(key, common_name, orgs)).decode()
    return {
        "metadata": {"name": name},
        "spec": {"request": request, "signerName": signer, "usages": list(usages), **spec},
    }


def issued(csr: Object) -> x509.Certificate | None:
    encoded = (csr.get("status") or {}).get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(encoded)) if encoded else None


def condition_types(csr: Object) -> list[str]:
    return [c["type"] for c in (csr.get("status") or {}).get("conditions") or []]


async def test_a_bootstrappers_node_client_request_is_approved_and_signed(
    cluster: Cluster, api: ApiClient
) -> None:
    async with (
        bootstrapper_client(api) as client,
        running_controllers(
            api, "csrapproving", "csrsigning", **signing_options(cluster)
        ) as manager,
    ):
        refused = {
            "wrong-cn": csr("wrong-cn", common_name="n1"),
            "wrong-org": csr("wrong-org", orgs=("system:nodes", "admins")),
            "server-usage": csr("server-usage", usages=("digital signature", "server auth")),
        }
        for name, body in refused.items():
            await processed(manager, "csrapproving", lambda b=body: client.create(CSRS, b))
            assert condition_types(await api.get(CSRS, name)) == [], name
        await processed(manager, "csrapproving", lambda: api.create(CSRS, csr("by-admin")))
        assert condition_types(await api.get(CSRS, "by-admin")) == []
        await client.create(CSRS, csr("node-csr", expirationSeconds=7200))

        async def signed() -> Object | None:
            found = await api.get(CSRS, "node-csr")
            return found if issued(found) else None

        done = await eventually(signed)
    [approval] = done["status"]["conditions"]
    assert approval["type"] == "Approved" and approval["reason"] == "AutoApproved"
    assert "kubelet client certificate" in approval["message"]
    certificate = issued(done)
    assert certificate is not None
    ca = Pki(cluster.server.pki_dir).load_ca().certificate
    certificate.verify_directly_issued_by(ca)
    subject = certificate.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [
        "system:node:n1"
    ]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:nodes"
    ]
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.total_seconds() == 7200 + 300  # the request's 2h, from 5 min back


async def test_a_renewal_by_the_node_itself_is_approved(cluster: Cluster, api: ApiClient) -> None:
    node = issue_client_certificate(
        Pki(cluster.server.pki_dir).load_ca(), "system:node:n2", ["system:nodes"]
    )
    config = ClientConfig(
        api.config.server,
        ca_pem=api.config.ca_pem,
        client_cert_pem=node.certificate_pem(),
        client_key_pem=node.key_pem(),
        qps=0,
    )
    async with ApiClient(config) as as_node:
        created = await as_node.create(CSRS, csr("renewal", common_name="system:node:n2"))
        await as_node.create(CSRS, csr("for-another-node", common_name="system:node:n3"))
    assert created["spec"]["username"] == "system:node:n2"
    async with running_controllers(api, "csrapproving", "csrsigning", **signing_options(cluster)):

        async def renewed() -> Object | None:
            found = await api.get(CSRS, "renewal")
            return found if issued(found) else None

        done = await eventually(renewed)
        assert condition_types(await api.get(CSRS, "for-another-node")) == []
    assert "self kubelet client" in done["status"]["conditions"][0]["message"]


async def test_a_request_the_signer_refuses_gets_a_failed_condition(
    cluster: Cluster, api: ApiClient
) -> None:
    kubectl = cluster.kubectl()
    await api.create(
        CSRS,
        csr(
            "server-as-client",
            common_name="alice",
            orgs=(),
            signer="kubernetes.io/kube-apiserver-client",
            usages=("server auth",),
        ),
    )
    await api.create(
        CSRS,
        csr(
            "alice",
            common_name="alice",
            orgs=("dev",),
            signer="kubernetes.io/kube-apiserver-client",
            usages=("client auth",),
            expirationSeconds=600,
        ),
    )
    await kubectl("certificate", "approve", "server-as-client", "alice")
    async with running_controllers(api, "csrsigning", **signing_options(cluster)):

        async def failed() -> Object | None:
            found = await api.get(CSRS, "server-as-client")
            return found if "Failed" in condition_types(found) else None

        async def signed() -> Object | None:
            found = await api.get(CSRS, "alice")
            return found if issued(found) else None

        refused = await eventually(failed)
        alice = await eventually(signed)
    condition = refused["status"]["conditions"][-1]
    assert condition["reason"] == "SignerValidationFailure"
    assert condition["message"] == "invalid usage for client certificate: server auth"
    assert issued(refused) is None
    certificate = issued(alice)
    assert certificate is not None
    assert (certificate.not_valid_after_utc - certificate.not_valid_before_utc).total_seconds() == (
        600 + 300
    )
    _, out, _ = await kubectl("get", "csr", "--no-headers")
    states = {line.split()[0]: line.split()[-1] for line in out.splitlines()}
    assert states == {"server-as-client": "Approved,Failed", "alice": "Approved,Issued"}


async def test_without_a_signing_ca_the_signer_stays_idle(
    api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with running_controllers(api, "csrsigning"):
            await eventually(lambda: _logged(caplog, "Skipping CSR signer controller"))


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def test_the_cleaner_deletes_stale_requests_and_keeps_fresh_ones(
    cluster: Cluster, api: ApiClient
) -> None:
    kubectl = cluster.kubectl()
    for name in ("pending", "denied", "approved"):
        await api.create(CSRS, csr(name, common_name="n1"))
    await kubectl("certificate", "deny", "denied")
    await kubectl("certificate", "approve", "approved")
    clock = WallClock()
    clock.advance(2 * 3600)  # denied an hour ago and more; pending for less than a day
    async with running_controllers(api, "csrcleaner", wall_clock=clock):

        async def names() -> set[str] | None:
            left = {item["metadata"]["name"] for item in (await api.list(CSRS))["items"]}
            return left if "denied" not in left else None

        # approved but never issued, and pending for 2h: both stay
        assert await eventually(names) == {"pending", "approved"}
    clock.advance(23 * 3600)
    async with running_controllers(api, "csrcleaner", wall_clock=clock):

        async def pending_gone() -> bool:
            left = {item["metadata"]["name"] for item in (await api.list(CSRS))["items"]}
            return left == {"approved"}

        await eventually(pending_gone)
