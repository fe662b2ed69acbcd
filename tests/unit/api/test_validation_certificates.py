"""CertificateSigningRequest validation, worded as upstream's."""

from __future__ import annotations

from pynetes.api.validation.certificates import (
    validate_signer_name,
    validate_subresource_update,
)


def messages(signer: str) -> list[str]:
    return [str(error) for error in validate_signer_name(signer, "spec.signerName")]


def test_signer_names_are_a_qualified_domain_and_path() -> None:
    assert messages("kubernetes.io/kube-apiserver-client-kubelet") == []
    assert messages("example.com/a.b-c") == []
    assert messages("") == ["spec.signerName: Required value"]
    assert messages("a/b/c") == [
        'spec.signerName: Invalid value: "a/b/c": must be a fully qualified domain and path of'
        " the form 'example.com/signer-name'"
    ]
    assert messages("example/signer") == [
        'spec.signerName: Invalid value: "example": should be a domain with at least two'
        " segments separated by dots"
    ]
    [bad_label] = messages("Example.com/signer")
    assert bad_label.startswith(
        'spec.signerName: Invalid value: "Example.com": validating label "Example": a lowercase'
    )
    [bad_path] = messages("example.com/Signer")
    assert 'validating label "Signer"' in bad_path


def test_only_approval_changes_approval_and_only_status_sets_the_certificate() -> None:
    old = {"status": {}}
    approved = {"status": {"conditions": [{"type": "Approved", "status": "True"}]}}
    assert validate_subresource_update(approved, old, "approval") == []
    [refused] = validate_subresource_update(approved, old, "status")
    assert str(refused) == (
        'status.conditions: Forbidden: updates may not add a condition of type "Approved"'
    )
    issued = {"status": {"certificate": "Q0VSVA=="}}
    assert validate_subresource_update(issued, old, "status") == []
    [not_here] = validate_subresource_update(issued, old, "approval")
    assert str(not_here) == "status.certificate: Forbidden: updates may not set certificate content"
    reissued = {"status": {"certificate": "T1RIRVI="}}
    [once] = validate_subresource_update(reissued, issued, "status")
    assert "may not modify existing certificate content" in str(once)
