"""csrsigning: issues the certificates of approved requests to the ``kubernetes.io`` signers.

As upstream's signer controller, with the CA of ``--cluster-signing-cert-file``
and ``--cluster-signing-key-file`` (no CA given: the controller stays idle and
says so). An approved, not yet issued, not failed request for
``kubernetes.io/kube-apiserver-client``, ``.../kube-apiserver-client-kubelet``,
``.../kubelet-serving`` or ``.../legacy-unknown`` is checked against its
signer's rules; one that breaks them gets a ``Failed`` condition (reason
``SignerValidationFailure``), the others a certificate written through the
``status`` subresource. The certificate keeps the request's subject, key and
SANs, carries the key usages its ``usages`` name, and is valid for
``--cluster-signing-duration``, or for ``spec.expirationSeconds`` when that is
shorter, never past the CA's own expiry.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from pynetes.client import errors
from pynetes.controllermanager.common.certificates import (
    CSRS,
    KUBE_APISERVER_CLIENT,
    KUBE_APISERVER_CLIENT_KUBELET,
    KUBELET_SERVING,
    LEGACY_UNKNOWN,
    CsrController,
    apiserver_client_problem,
    has_condition,
    kubelet_client_problem,
    kubelet_serving_problem,
    request_of,
    usages_of,
)
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor
from pynetes.controllermanager.options import duration
from pynetes.pki.certificates import KeyPair, authority_key_id, load_pair
from pynetes.pki.csr import CsrError, key_usage_extensions, requested_sans

log = logging.getLogger(__name__)

Object = dict[str, Any]
Rule = Callable[[x509.CertificateSigningRequest, list[str]], str]

DEFAULT_DURATION = 365 * 24 * 3600.0
MIN_DURATION = 600.0
#: NotBefore lies this far back, so peers with slightly slow clocks accept a new certificate.
BACKDATE = timedelta(minutes=5)
#: Certificates shorter than this are not backdated into a shorter life (upstream's Short).
SHORT = timedelta(hours=8)

#: Each signer's rules; "" means the request may be signed.
SIGNER_RULES: dict[str, Rule] = {
    KUBE_APISERVER_CLIENT: apiserver_client_problem,
    KUBE_APISERVER_CLIENT_KUBELET: kubelet_client_problem,
    KUBELET_SERVING: kubelet_serving_problem,
    LEGACY_UNKNOWN: lambda _request, _usages: "",
}


@dataclass(frozen=True)
class Signer:
    """Signs requests with ``ca`` for at most ``max_duration`` seconds."""

    ca: KeyPair
    max_duration: float = DEFAULT_DURATION

    def sign(
        self,
        request: x509.CertificateSigningRequest,
        usages: list[str],
        expiration_seconds: int | None,
        now: datetime,
    ) -> bytes:
        """The PEM certificate for ``request``; ValueError when the CA cannot issue it."""
        ca_expiry = self.ca.certificate.not_valid_after_utc
        if now >= ca_expiry:
            raise ValueError("refusing to sign a certificate using an expired CA")
        lifetime = timedelta(seconds=self.duration(expiration_seconds))
        not_before = now - BACKDATE
        not_after = now + lifetime if lifetime < SHORT else not_before + lifetime
        key_usage, extended = key_usage_extensions(usages)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.ca.certificate.subject)
            .public_key(request.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(min(not_after, ca_expiry))
            .add_extension(key_usage, critical=True)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(authority_key_id(self.ca), critical=False)
        )
        if extended is not None:
            builder = builder.add_extension(extended, critical=False)
        sans = requested_sans(request)
        if len(list(sans)):
            builder = builder.add_extension(sans, critical=False)
        certificate = builder.sign(self.ca.key, hashes.SHA256())
        return certificate.public_bytes(serialization.Encoding.PEM)

    def duration(self, expiration_seconds: int | None) -> float:
        """Seconds of validity: the flag's, or the request's when shorter (10 min at least)."""
        if expiration_seconds is None:
            return self.max_duration
        return min(self.max_duration, max(float(expiration_seconds), MIN_DURATION))


class CsrSigner:
    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._now = lambda: datetime.fromtimestamp(context.wall_clock(), UTC)
        options = context.options
        cert_file: Path | None = getattr(options, "cluster_signing_cert_file", None)
        key_file: Path | None = getattr(options, "cluster_signing_key_file", None)
        self._signer: Signer | None = None
        self._csrs: CsrController | None = None
        if cert_file is None or key_file is None:
            return
        max_duration = getattr(options, "cluster_signing_duration", DEFAULT_DURATION)
        self._signer = Signer(load_pair(cert_file, key_file), max_duration)
        self._csrs = CsrController(context, "csrsigning", self._sign)

    async def run(self) -> None:
        if self._csrs is None:
            log.info(
                "Skipping CSR signer controller because no csr cert/key was specified"
                " (--cluster-signing-cert-file, --cluster-signing-key-file)"
            )
            return
        await self._csrs.run()

    async def _sign(self, csr: Object) -> None:
        assert self._signer is not None
        spec = csr.get("spec") or {}
        rule = SIGNER_RULES.get(spec.get("signerName") or "")
        status = csr.get("status") or {}
        if rule is None or status.get("certificate") or not has_condition(csr, "Approved"):
            return
        if has_condition(csr, "Failed") or has_condition(csr, "Denied"):
            return
        name = csr["metadata"]["name"]
        try:
            request = request_of(csr)
        except CsrError as error:
            log.warning("unable to parse csr %s: %s", name, error)
            return
        usages = usages_of(csr)
        problem = rule(request, usages)
        if problem:
            await self._fail(csr, "SignerValidationFailure", problem)
            return
        try:
            pem = self._signer.sign(request, usages, spec.get("expirationSeconds"), self._now())
        except ValueError as error:
            await self._fail(csr, "SigningFailure", str(error))
            return
        issued = {**csr, "status": {**status, "certificate": base64.b64encode(pem).decode()}}
        await self._update_status(issued)
        log.info("signed certificate signing request %s", name)

    async def _fail(self, csr: Object, reason: str, message: str) -> None:
        status = csr.get("status") or {}
        condition = {"type": "Failed", "status": "True", "reason": reason, "message": message}
        failed = {**csr, "status": {**status}}
        failed["status"]["conditions"] = [*(status.get("conditions") or []), condition]
        await self._update_status(failed)
        log.info("certificate signing request %s failed: %s", csr["metadata"]["name"], message)

    async def _update_status(self, csr: Object) -> None:
        with contextlib.suppress(errors.NotFound):  # deleted meanwhile: nothing to issue
            await self._client.replace(CSRS, csr, subresource="status")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cluster-signing-cert-file",
        type=Path,
        default=None,
        help="PEM CA certificate the csrsigning controller issues cluster certificates with",
    )
    parser.add_argument(
        "--cluster-signing-key-file",
        type=Path,
        default=None,
        help="PEM private key of --cluster-signing-cert-file",
    )
    parser.add_argument(
        "--cluster-signing-duration",
        type=duration,
        default=DEFAULT_DURATION,
        help="the longest validity of a signed certificate (default 8760h0m0s); a request's"
        " expirationSeconds may ask for less",
    )


CONTROLLER = ControllerDescriptor(name="csrsigning", build=CsrSigner, add_arguments=add_arguments)
