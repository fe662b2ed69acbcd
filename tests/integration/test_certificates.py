"""CertificateSigningRequests through the real API server, the real client and real kubectl."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from pynetes.pki.certificates import Pki, issue_client_certificate
from pynetes.pki.csr import new_csr_pem
from tests.integration.conftest import (
    Cluster,
    api_server_with_bootstrapper,
    bootstrapper_client,
)

Object = dict[str, Any]

CSRS = built_in("certificates.k8s.io", "v1", "certificatesigningrequests")
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with api_server_with_bootstrapper(
        tmp_path, ("system:bootstrappers", "extra:group")
    ) as running:
        yield running


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


def csr_request(
    common_name: str = "system:node:n1", orgs: tuple[str, ...] = ("system:nodes",)
) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return base64.b64encode(new_csr_pem(key, common_name, orgs)).decode()


def csr(name: str = "node-csr-1", **spec: Any) -> Object:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": csr_request(),
            "signerName": KUBELET_SIGNER,
            "usages": ["digital signature", "client auth"],
            **spec,
        },
    }


def unversioned(obj: Object, **changes: Any) -> Object:
    """``obj`` with ``changes`` and no resourceVersion: an unconditional update."""
    metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": metadata, **changes}


def causes(error: errors.ApiError) -> dict[str, tuple[str, str]]:
    return {
        cause["field"]: (cause["reason"], cause["message"])
        for cause in error.status["details"]["causes"]
    }


async def test_create_fills_the_requester_from_authentication_not_the_body(
    api: ApiClient,
) -> None:
    forged = csr(username="kubernetes-admin", groups=["system:masters"], uid="0")
    forged["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    async with bootstrapper_client(api) as client:
        created = await client.create(CSRS, forged)
    spec = created["spec"]
    assert spec["username"] == "system:bootstrap:abcdef"
    assert spec["uid"] == "10"
    assert spec["groups"] == ["system:bootstrappers", "extra:group", "system:authenticated"]
    assert created["status"] == {}
    as_admin = await api.create(CSRS, csr("by-admin"))
    assert as_admin["spec"]["username"] == "kubernetes-admin"
    assert "system:masters" in as_admin["spec"]["groups"]


async def test_invalid_requests_are_422_with_upstreams_causes(api: ApiClient) -> None:
    not_a_csr = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    bad = csr(
        request=not_a_csr.decode(),
        signerName="nodomain",
        usages=["client auth", "telepathy", "client auth"],
        expirationSeconds=599,
    )
    with pytest.raises(errors.Invalid) as caught:
        await api.create(CSRS, bad)
    found = causes(caught.value)
    assert found["spec.request"][0] == "FieldValueInvalid"
    assert found["spec.request"][1].endswith("PEM block type must be CERTIFICATE REQUEST")
    assert found["spec.signerName"] == (
        "FieldValueInvalid",
        'Invalid value: "nodomain": must be a fully qualified domain and path of the form'
        " 'example.com/signer-name'",
    )
    assert found["spec.usages[1]"][0] == "FieldValueNotSupported"
    assert found["spec.usages[2]"] == ("FieldValueDuplicate", 'Duplicate value: "client auth"')
    assert found["spec.expirationSeconds"] == (
        "FieldValueInvalid",
        "Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)",
    )
    with pytest.raises(errors.Invalid) as caught:
        await api.create(CSRS, csr(signerName="", usages=[]))
    assert causes(caught.value)["spec.signerName"][0] == "FieldValueRequired"
    assert causes(caught.value)["spec.usages"][0] == "FieldValueRequired"


async def test_a_request_whose_signature_does_not_verify_is_refused(api: ApiClient) -> None:
    pem = bytearray(base64.b64decode(csr_request()))
    body = pem.split(b"\n")
    der = bytearray(base64.b64decode(b"".join(body[1:-2])))
    der[-5] ^= 0x55
    encoded = base64.encodebytes(bytes(der))
    tampered = b"-----BEGIN CERTIFICATE REQUEST-----\n" + encoded
    tampered += b"-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(errors.Invalid) as caught:
        await api.create(CSRS, csr(request=base64.b64encode(tampered).decode()))
    reason, message = causes(caught.value)["spec.request"]
    assert reason == "FieldValueInvalid"
    assert "verification" in message or "malformed" in message


async def test_spec_is_immutable_and_approval_only_through_its_subresource(
    api: ApiClient,
) -> None:
    created = await api.create(CSRS, csr())
    changed = unversioned(
        created,
        spec={**created["spec"], "usages": ["client auth"]},
        status={"conditions": [{"type": "Approved", "status": "True"}]},
    )
    updated = await api.replace(CSRS, changed)
    assert updated["spec"] == created["spec"]
    assert updated["status"] == {}
    with pytest.raises(errors.Invalid) as caught:
        await api.replace(CSRS, changed, subresource="status")
    assert causes(caught.value)["status.conditions"] == (
        "FieldValueForbidden",
        'Forbidden: updates may not add a condition of type "Approved"',
    )
    approved = await api.replace(CSRS, changed, subresource="approval")
    [condition] = approved["status"]["conditions"]
    assert condition["type"] == "Approved" and condition["status"] == "True"
    assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    assert approved["spec"] == created["spec"]
    both = unversioned(
        approved, status={"conditions": [condition, {"type": "Denied", "status": "True"}]}
    )
    with pytest.raises(errors.Invalid, match="mutually exclusive"):
        await api.replace(CSRS, both, subresource="approval")
    dropped = unversioned(approved, status={"conditions": []})
    with pytest.raises(errors.Invalid, match='may not remove a condition of type "Approved"'):
        await api.replace(CSRS, dropped, subresource="approval")


async def test_the_certificate_is_set_once_through_status_and_must_be_pem_certificates(
    cluster: Cluster, api: ApiClient
) -> None:
    created = await api.create(CSRS, csr())
    pem = issue_client_certificate(Pki(cluster.server.pki_dir).load_ca(), "u").certificate_pem()
    encoded = base64.b64encode(pem).decode()
    for elsewhere in (None, "approval"):
        kept = await api.replace(
            CSRS, unversioned(created, status={"certificate": encoded}), subresource=elsewhere
        )
        assert "certificate" not in kept["status"]
    garbage = base64.b64encode(b"not pem").decode()
    with pytest.raises(errors.Invalid, match="at least one CERTIFICATE PEM block"):
        await api.replace(
            CSRS, unversioned(created, status={"certificate": garbage}), subresource="status"
        )
    issued = await api.replace(
        CSRS, unversioned(created, status={"certificate": encoded}), subresource="status"
    )
    assert base64.b64decode(issued["status"]["certificate"]) == pem
    with pytest.raises(errors.Invalid, match="may not modify existing certificate content"):
        other = issue_client_certificate(Pki(cluster.server.pki_dir).load_ca(), "v")
        again = base64.b64encode(other.certificate_pem()).decode()
        await api.replace(
            CSRS, unversioned(issued, status={"certificate": again}), subresource="status"
        )


async def test_kubectl_lists_approves_and_denies(cluster: Cluster, api: ApiClient) -> None:
    kubectl = cluster.kubectl()
    async with bootstrapper_client(api) as client:
        await client.create(CSRS, csr("to-approve", expirationSeconds=3600))
        await client.create(CSRS, csr("to-deny"))
    _, out, _ = await kubectl("get", "csr")
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "AGE",
        "SIGNERNAME",
        "REQUESTOR",
        "REQUESTEDDURATION",
        "CONDITION",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["to-approve"][2:] == [KUBELET_SIGNER, "system:bootstrap:abcdef", "60m", "Pending"]
    assert rows["to-deny"][4:] == ["<none>", "Pending"]
    _, out, _ = await kubectl("certificate", "approve", "to-approve")
    assert out.strip() == "certificatesigningrequest.certificates.k8s.io/to-approve approved"
    _, out, _ = await kubectl("certificate", "deny", "to-deny")
    assert out.strip() == "certificatesigningrequest.certificates.k8s.io/to-deny denied"
    _, out, _ = await kubectl("get", "csr", "--no-headers")
    conditions = {line.split()[0]: line.split()[-1] for line in out.splitlines()}
    assert conditions == {"to-approve": "Approved", "to-deny": "Denied"}
    approved = await api.get(CSRS, "to-approve")
    [condition] = approved["status"]["conditions"]
    assert condition["reason"] == "KubectlApprove"
    _, out, _ = await kubectl("describe", "csr", "to-approve")
    assert "Requesting User:     system:bootstrap:abcdef" in out
    assert "Status:              Approved" in out
    code, _, err = await kubectl("certificate", "deny", "to-approve", check=False)
    assert code != 0 and "already approved" in err.lower()


async def test_served_in_discovery_with_its_short_name(cluster: Cluster) -> None:
    _, out, _ = await cluster.kubectl()("api-resources", "--api-group=certificates.k8s.io")
    [_header, row] = out.splitlines()
    assert row.split() == [
        "certificatesigningrequests",
        "csr",
        "certificates.k8s.io/v1",
        "false",
        "CertificateSigningRequest",
    ]
    _, out, _ = await cluster.kubectl()("explain", "csr.spec.signerName")
    assert "signerName" in out


async def test_server_side_apply_creates_with_the_appliers_identity(
    cluster: Cluster, api: ApiClient
) -> None:
    body = orjson.dumps(csr("applied", username="someone-else")).decode()
    await cluster.kubectl()("apply", "--server-side", "-f", "-", stdin=body.encode())
    applied = await api.get(CSRS, "applied")
    assert applied["spec"]["username"] == "kubernetes-admin"
