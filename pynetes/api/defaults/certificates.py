"""Defaults of ``certificates.k8s.io/v1``, as upstream's pkg/apis/certificates/v1 sets them."""

from __future__ import annotations

from pynetes.api.defaults._fields import Obj


def _condition(condition: Obj) -> None:
    """A condition without a status is a true one (``kubectl certificate approve`` sends it)."""
    if not condition.get("status"):
        condition["status"] = "True"


DEFAULTERS = {"io.k8s.api.certificates.v1.CertificateSigningRequestCondition": _condition}
