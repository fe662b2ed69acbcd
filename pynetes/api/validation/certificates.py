"""CertificateSigningRequests (``certificates.k8s.io/v1``), as upstream's certificates validation.

On create the request must be a PEM ``CERTIFICATE REQUEST`` whose signature
verifies, the signer a qualified ``domain/path`` name, the usages known and
distinct, the requested duration at least ten minutes, and the status
(which the strategy empties) consistent. Updates judge the new object by
the same rules, loosened where the stored object already breaks them (so an
old object stays updatable), and refuse to drop an Approved, Denied or
Failed condition. What each subresource may change (conditions through
``approval``, the certificate through ``status``, once) is judged by
:func:`validate_subresource_update`, which the strategy calls with the
subresource's name.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pynetes.api.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from pynetes.api.gofmt import go_quote
from pynetes.api.validation.govalues import invalid_go
from pynetes.api.validation.syntax import is_dns1123_label, is_dns1123_subdomain
from pynetes.pki.csr import KEY_USAGES, CsrError, check_certificate_chain, check_csr

Object = Mapping[str, Any]

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown"
MIN_EXPIRATION_SECONDS = 600
_CONDITIONS = "status.conditions"
_CERTIFICATE = "status.certificate"
_STATUS_VALUES = ("False", "True", "Unknown")
_DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL_MAX = 63
_SIGNER_NAME_MAX = _DNS1123_SUBDOMAIN_MAX + (_DNS1123_SUBDOMAIN_MAX + _DNS1123_LABEL_MAX + 1) + 1


@dataclass(frozen=True)
class _Leniency:
    """What an update tolerates because the stored object already has it (upstream's
    certificateValidationOptions derived from the old object)."""

    empty_condition_type: bool = False
    approved_and_denied: bool = False
    duplicate_condition_types: bool = False
    arbitrary_certificate: bool = False


def validate_csr(csr: Object) -> list[FieldError]:
    """The rules of a new CertificateSigningRequest (metadata aside)."""
    return _validate(csr, _Leniency())


def validate_csr_update(new: Object, old: Object) -> list[FieldError]:
    """The rules of any update: the create rules (lenient where ``old`` already broke
    them) and no Approved, Denied or Failed condition may go away."""
    old_conditions = _conditions(old)
    types = [condition.get("type") or "" for condition in old_conditions]
    leniency = _Leniency(
        empty_condition_type="" in types,
        approved_and_denied=APPROVED in types and DENIED in types,
        duplicate_condition_types=len(set(types)) != len(types),
        arbitrary_certificate=_certificate(new) == _certificate(old)
        or _certificate_error(_certificate(old)) is not None,
    )
    errors = _validate(new, leniency)
    for kind in (APPROVED, DENIED, FAILED):
        if len(_of_type(new, kind)) < len(_of_type(old, kind)):
            errors.append(
                forbidden(
                    _CONDITIONS, f"updates may not remove a condition of type {go_quote(kind)}"
                )
            )
    return errors


def validate_subresource_update(new: Object, old: Object, subresource: str) -> list[FieldError]:
    """What only one subresource may change: approval conditions (``approval``) and the
    certificate (``status``, and only while there is none)."""
    errors: list[FieldError] = []
    if subresource != "approval":
        for kind in (APPROVED, DENIED):
            before, after = _of_type(old, kind), _of_type(new, kind)
            if len(after) > len(before):
                errors.append(
                    forbidden(
                        _CONDITIONS, f"updates may not add a condition of type {go_quote(kind)}"
                    )
                )
            elif len(after) == len(before) and after != before:
                errors.append(
                    forbidden(
                        _CONDITIONS, f"updates may not modify a condition of type {go_quote(kind)}"
                    )
                )
    if _certificate(new) != _certificate(old):
        if subresource != "status":
            errors.append(forbidden(_CERTIFICATE, "updates may not set certificate content"))
        elif _certificate(old):
            errors.append(
                forbidden(_CERTIFICATE, "updates may not modify existing certificate content")
            )
    return errors


def validate_signer_name(signer: str, path: str) -> list[FieldError]:
    """A fully qualified ``<domain>/<path>`` (upstream's ValidateSignerName)."""
    if not signer:
        return [required(path)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [
            invalid(
                path,
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    domain, name = segments
    errors: list[FieldError] = []
    if len(domain) > _DNS1123_SUBDOMAIN_MAX:
        errors.append(too_long(path, _DNS1123_SUBDOMAIN_MAX))
    labels = domain.split(".")
    errors += _first_bad_label(path, domain, labels, is_dns1123_label)
    if len(labels) < 2:
        errors.append(
            invalid(path, domain, "should be a domain with at least two segments separated by dots")
        )
    errors += _first_bad_label(path, name, name.split("."), is_dns1123_subdomain)
    if len(signer) > _SIGNER_NAME_MAX:
        errors.append(too_long(path, _SIGNER_NAME_MAX))
    return errors


def _first_bad_label(path: str, segment: str, labels: list[str], check: Any) -> list[FieldError]:
    """The errors of the first label that fails ``check`` (the rest would only repeat them)."""
    for label in labels:
        messages = check(label)
        if messages:
            return [
                invalid(path, segment, f"validating label {go_quote(label)}: {message}")
                for message in messages
            ]
    return []


def _validate(csr: Object, leniency: _Leniency) -> list[FieldError]:
    spec = csr.get("spec") or {}
    errors: list[FieldError] = []
    request = _decoded(spec.get("request"))
    try:
        check_csr(request)
    except CsrError as error:
        errors.append(invalid_go("spec.request", _go_bytes(request), str(error)))
    usages = spec.get("usages") or []
    if not usages:
        errors.append(required("spec.usages"))
    seen: set[str] = set()
    for index, usage in enumerate(usages):
        if usage not in KEY_USAGES:
            errors.append(not_supported(f"spec.usages[{index}]", usage, sorted(KEY_USAGES)))
    for index, usage in enumerate(usages):
        if usage in seen:
            errors.append(duplicate(f"spec.usages[{index}]", usage))
        seen.add(usage)
    signer = spec.get("signerName") or ""
    if signer == LEGACY_UNKNOWN_SIGNER:
        errors.append(
            invalid(
                "spec.signerName",
                signer,
                "the legacy signerName is not allowed via this API version",
            )
        )
    else:
        errors += validate_signer_name(signer, "spec.signerName")
    seconds = spec.get("expirationSeconds")
    if seconds is not None and seconds < MIN_EXPIRATION_SECONDS:
        errors.append(
            invalid(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    errors += _validate_conditions(_conditions(csr), leniency)
    if not leniency.arbitrary_certificate:
        problem = _certificate_error(_certificate(csr))
        if problem is not None:
            errors.append(invalid(_CERTIFICATE, "<certificate data>", problem))
    return errors


def _validate_conditions(conditions: list[Object], leniency: _Leniency) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    approved = denied = False
    for index, condition in enumerate(conditions):
        path = f"{_CONDITIONS}[{index}]"
        kind = condition.get("type") or ""
        if not kind and not leniency.empty_condition_type:
            errors.append(required(f"{path}.type"))
        allowed = ("True",) if kind in (APPROVED, DENIED, FAILED) else _STATUS_VALUES
        status = condition.get("status") or ""
        if not status:
            errors.append(required(f"{path}.status"))
        elif status not in allowed:
            errors.append(not_supported(f"{path}.status", status, allowed))
        if not leniency.approved_and_denied and kind in (APPROVED, DENIED):
            approved, denied = approved or kind == APPROVED, denied or kind == DENIED
            if approved and denied:
                errors.append(
                    invalid(
                        _CONDITIONS, kind, "Approved and Denied conditions are mutually exclusive"
                    )
                )
        if not leniency.duplicate_condition_types:
            if kind in seen:
                errors.append(duplicate(f"{path}.type", kind))
            seen.add(kind)
    return errors


def _conditions(csr: Object) -> list[Object]:
    return list((csr.get("status") or {}).get("conditions") or [])


def _of_type(csr: Object, kind: str) -> list[Object]:
    return [condition for condition in _conditions(csr) if condition.get("type") == kind]


def _certificate(csr: Object) -> str:
    return (csr.get("status") or {}).get("certificate") or ""


def _certificate_error(encoded: str) -> str | None:
    try:
        check_certificate_chain(_decoded(encoded))
    except CsrError as error:
        return str(error)
    return None


def _decoded(value: Any) -> bytes:
    """A ``[]byte`` field's bytes (the decoder already refused bad base64)."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return b""


def _go_bytes(data: bytes) -> str:
    """Go's ``%#v`` of a ``[]byte``, as upstream prints the rejected request."""
    if not data:
        return "[]byte(nil)"
    return "[]byte{" + ", ".join(f"0x{byte:x}" for byte in data) + "}"
