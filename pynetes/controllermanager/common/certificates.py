"""What the certificate controllers share: a CSR's state, its parsed request, and the
rules a request must meet for each ``kubernetes.io`` signer (upstream's certificates
helpers ``ValidateKubeletClientCSR`` and ``ValidateKubeletServingCSR``)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from pynetes.api.resources import built_in
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.pki.csr import parse_csr, requested_sans, subject_values

Object = dict[str, Any]

CSRS = built_in("certificates.k8s.io", "v1", "certificatesigningrequests")

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

_KUBELET_CLIENT_USAGES = (
    {"digital signature", "key encipherment", "client auth"},
    {"digital signature", "client auth"},
)
_KUBELET_SERVING_USAGES = (
    {"digital signature", "key encipherment", "server auth"},
    {"digital signature", "server auth"},
)


def has_condition(csr: Object, kind: str) -> bool:
    conditions = (csr.get("status") or {}).get("conditions") or []
    return any(condition.get("type") == kind for condition in conditions)


def certificate_of(csr: Object) -> bytes:
    return base64.b64decode((csr.get("status") or {}).get("certificate") or "")


def request_of(csr: Object) -> x509.CertificateSigningRequest:
    """The CSR's parsed PKCS#10 request (CsrError if it does not parse)."""
    return parse_csr(base64.b64decode((csr.get("spec") or {}).get("request") or ""))


def usages_of(csr: Object) -> list[str]:
    return list((csr.get("spec") or {}).get("usages") or [])


def kubelet_client_problem(request: x509.CertificateSigningRequest, usages: Iterable[str]) -> str:
    """Why ``request`` is no kubelet client certificate request ("" when it is one):
    O=system:nodes only, CN=system:node:<name>, no SANs, client-auth usages."""
    if subject_values(request.subject, NameOID.ORGANIZATION_NAME) != [NODES_GROUP]:
        return "subject organization is not system:nodes"
    sans = requested_sans(request)
    for kind, label in (
        (x509.DNSName, "DNS"),
        (x509.RFC822Name, "Email"),
        (x509.IPAddress, "IP"),
        (x509.UniformResourceIdentifier, "URI"),
    ):
        if sans.get_values_for_type(kind):  # type: ignore[attr-defined]
            return f"{label} subjectAltNames are not allowed"
    if not common_name(request).startswith(NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    if set(usages) not in _KUBELET_CLIENT_USAGES:
        return f"usages did not match [{' '.join(sorted(_KUBELET_CLIENT_USAGES[0]))}]"
    return ""


def kubelet_serving_problem(request: x509.CertificateSigningRequest, usages: Iterable[str]) -> str:
    """Why ``request`` is no kubelet serving certificate request ("" when it is one)."""
    if sorted(subject_values(request.subject, NameOID.ORGANIZATION_NAME)) != [NODES_GROUP]:
        return "subject organization is not system:nodes"
    sans = requested_sans(request)
    if not sans.get_values_for_type(x509.DNSName) and not sans.get_values_for_type(x509.IPAddress):
        return "DNS or IP subjectAltName is required"
    if sans.get_values_for_type(x509.RFC822Name):
        return "Email subjectAltNames are not allowed"
    if sans.get_values_for_type(x509.UniformResourceIdentifier):
        return "URI subjectAltNames are not allowed"
    if set(usages) not in _KUBELET_SERVING_USAGES:
        return f"usages did not match [{' '.join(sorted(_KUBELET_SERVING_USAGES[0]))}]"
    if not common_name(request).startswith(NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    return ""


def apiserver_client_problem(request: x509.CertificateSigningRequest, usages: Iterable[str]) -> str:
    """Why the usages are no client certificate's ("" when they are)."""
    wanted = list(usages)
    for usage in wanted:
        if usage not in ("digital signature", "key encipherment", "client auth"):
            return f"invalid usage for client certificate: {usage}"
    if "client auth" not in wanted:
        return "missing required usage for client certificate: client auth"
    return ""


def common_name(request: x509.CertificateSigningRequest) -> str:
    names = subject_values(request.subject, NameOID.COMMON_NAME)
    return names[-1] if names else ""


class CsrController:
    """A controller that reconciles CertificateSigningRequests by name from an informer."""

    def __init__(
        self,
        context: ControllerContext,
        name: str,
        reconcile: Callable[[Object], Awaitable[None]],
        *,
        workers: int = 5,
    ) -> None:
        self._reconcile = reconcile
        informer = context.informers.informer(CSRS)
        self._lister = Lister(informer.store)
        self.controller = Controller(name, self._sync, workers=workers, queue=context.queue(name))
        queue = self.controller.queue

        def changed(csr: Object) -> None:
            queue.add(csr["metadata"]["name"])

        informer.add_event_handler(
            EventHandler(on_add=changed, on_update=lambda _old, new: changed(new))
        )

    async def run(self) -> None:
        await self.controller.run()

    async def _sync(self, name: str) -> Result:
        csr = self._lister.get(name)
        if csr is not None:
            await self._reconcile(csr)
        return Result()
