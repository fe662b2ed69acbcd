"""The cluster's PKI (CA, serving and client certificates, service-account key) and kubeconfigs."""

from pynetes.pki.certificates import (
    ADMIN_USER,
    MASTERS_GROUP,
    KeyPair,
    Pki,
    PkiError,
    ensure_pki,
    first_service_ip,
    issue_client_certificate,
    issue_serving_certificate,
    new_certificate_authority,
    server_ssl_context,
)
from pynetes.pki.kubeconfig import kubeconfig, merge_kubeconfig, write_kubeconfig

__all__ = [
    "ADMIN_USER",
    "MASTERS_GROUP",
    "KeyPair",
    "Pki",
    "PkiError",
    "ensure_pki",
    "first_service_ip",
    "issue_client_certificate",
    "issue_serving_certificate",
    "kubeconfig",
    "merge_kubeconfig",
    "new_certificate_authority",
    "server_ssl_context",
    "write_kubeconfig",
]
