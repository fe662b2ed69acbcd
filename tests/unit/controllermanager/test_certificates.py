"""The pure decisions of csrapproving and csrsigning."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pynetes.controllermanager.common.certificates import (
    apiserver_client_problem,
    kubelet_client_problem,
    kubelet_serving_problem,
)
from pynetes.controllermanager.controllers.csrapproving import (
    NODE_CLIENT_MESSAGE,
    SELF_NODE_CLIENT_MESSAGE,
    approval_message,
)
from pynetes.controllermanager.controllers.csrcleaner import is_stale
from pynetes.controllermanager.controllers.csrsigning import Signer
from pynetes.pki.certificates import new_certificate_authority
from pynetes.pki.csr import new_csr_pem

Object = dict[str, Any]
CLIENT_USAGES = ["digital signature", "client auth"]


def parsed(
    common_name: str = "system:node:n1",
    orgs: tuple[str, ...] = ("system:nodes",),
    dns: tuple[str, ...] = (),
) -> x509.CertificateSigningRequest:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if dns:
        names = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns])
        builder = builder.add_extension(names, critical=False)
    return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())


def csr(
    username: str,
    groups: list[str],
    common_name: str = "system:node:n1",
    signer: str = "kubernetes.io/kube-apiserver-client-kubelet",
) -> Object:
    pem = new_csr_pem(ec.generate_private_key(ec.SECP256R1()), common_name, ["system:nodes"])
    return {
        "metadata": {"name": "c"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": signer,
            "usages": CLIENT_USAGES,
            "username": username,
            "groups": groups,
        },
    }


def test_kubelet_client_requests_are_exactly_a_nodes() -> None:
    assert kubelet_client_problem(parsed(), CLIENT_USAGES) == ""
    assert kubelet_client_problem(parsed(), [*CLIENT_USAGES, "key encipherment"]) == ""
    assert kubelet_client_problem(parsed(orgs=("system:nodes", "x")), CLIENT_USAGES) == (
        "subject organization is not system:nodes"
    )
    assert kubelet_client_problem(parsed(common_name="n1"), CLIENT_USAGES) == (
        "subject common name does not begin with system:node:"
    )
    assert kubelet_client_problem(parsed(dns=("n1",)), CLIENT_USAGES) == (
        "DNS subjectAltNames are not allowed"
    )
    assert kubelet_client_problem(parsed(), ["client auth"]) == (
        "usages did not match [client auth digital signature key encipherment]"
    )


def test_serving_and_apiserver_client_rules() -> None:
    serving = ["digital signature", "server auth"]
    assert kubelet_serving_problem(parsed(dns=("n1",)), serving) == ""
    assert kubelet_serving_problem(parsed(), serving) == "DNS or IP subjectAltName is required"
    assert apiserver_client_problem(parsed(), ["client auth"]) == ""
    assert apiserver_client_problem(parsed(), ["digital signature"]) == (
        "missing required usage for client certificate: client auth"
    )


def test_the_approver_approves_bootstrappers_and_the_node_itself_only() -> None:
    bootstrapper = csr("system:bootstrap:abcdef", ["system:bootstrappers", "system:authenticated"])
    assert approval_message(bootstrapper) == NODE_CLIENT_MESSAGE
    itself = csr("system:node:n1", ["system:nodes", "system:authenticated"])
    assert approval_message(itself) == SELF_NODE_CLIENT_MESSAGE
    assert approval_message(csr("system:node:n2", ["system:nodes"])) is None
    assert approval_message(csr("alice", ["system:masters"])) is None
    wrong_signer = csr("x", ["system:bootstrappers"], signer="kubernetes.io/kube-apiserver-client")
    assert approval_message(wrong_signer) is None
    assert approval_message(csr("x", ["system:bootstrappers"], common_name="n1")) is None


def test_the_signer_caps_the_duration_and_never_outlives_its_ca() -> None:
    signer = Signer(new_certificate_authority(), max_duration=86400.0)
    assert signer.duration(None) == 86400.0
    assert signer.duration(3600) == 3600.0
    assert signer.duration(10**9) == 86400.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pem = signer.sign(parsed(), CLIENT_USAGES, 3600, now)
    certificate = x509.load_pem_x509_certificate(pem)
    assert certificate.not_valid_before_utc == now - timedelta(minutes=5)
    assert certificate.not_valid_after_utc == now + timedelta(hours=1)
    assert certificate.subject == parsed().subject
    late = signer.ca.certificate.not_valid_after_utc - timedelta(hours=1)
    capped = x509.load_pem_x509_certificate(signer.sign(parsed(), CLIENT_USAGES, None, late))
    assert capped.not_valid_after_utc == signer.ca.certificate.not_valid_after_utc


def test_the_cleaner_judges_by_state_and_age() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    hour = timedelta(hours=1)

    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def request(*conditions: tuple[str, datetime], certificate: bytes = b"") -> Object:
        status: Object = {
            "conditions": [{"type": kind, "lastUpdateTime": at(when)} for kind, when in conditions]
        }
        if certificate:
            status["certificate"] = base64.b64encode(certificate).decode()
        return {"metadata": {"creationTimestamp": at(now - 2 * hour)}, "status": status}

    assert not is_stale(request(), now)
    assert is_stale(request(), now + 23 * hour)
    assert is_stale(request(("Denied", now - 2 * hour)), now)
    assert not is_stale(request(("Denied", now - hour / 2)), now)
    assert not is_stale(request(("Approved", now - 2 * hour)), now)
    ca = new_certificate_authority()
    pem = Signer(ca).sign(parsed(), CLIENT_USAGES, 3600, now - hour / 2)
    assert not is_stale(request(("Approved", now - hour / 2), certificate=pem), now)
    assert is_stale(request(("Approved", now - 2 * hour), certificate=pem), now)
    assert is_stale(request(("Approved", now - hour / 2), certificate=pem), now + 2 * hour)


def test_a_serving_certificate_keeps_the_requested_names() -> None:
    signer = Signer(new_certificate_authority())
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pem = signer.sign(parsed(dns=("n1.example",)), ["digital signature", "server auth"], None, now)
    certificate = x509.load_pem_x509_certificate(pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["n1.example"]
    certificate.verify_directly_issued_by(signer.ca.certificate)
