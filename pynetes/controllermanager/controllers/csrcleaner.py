"""csrcleaner: deletes CertificateSigningRequests nobody needs any more.

As upstream's cleaner, once at start and then every hour, a request is
deleted when its certificate has expired, or when it has been

- pending (no Approved, Denied or Failed condition) for 24 hours since
  its creation;
- denied, or failed, for an hour since that condition was last updated;
- issued for an hour since it was approved (the requester has had its
  certificate long enough to fetch it).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from pynetes.api.meta import parse_timestamp
from pynetes.client import errors
from pynetes.client.cache.lister import Lister
from pynetes.controllermanager.common.certificates import CSRS, certificate_of
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)

Object = dict[str, Any]

POLLING_INTERVAL = 3600.0
PENDING_EXPIRATION = timedelta(hours=24)
DENIED_EXPIRATION = timedelta(hours=1)
APPROVED_EXPIRATION = timedelta(hours=1)


def is_stale(csr: Object, now: datetime) -> bool:
    """Whether the cleaner deletes ``csr`` at ``now``."""
    conditions = {
        condition.get("type"): condition
        for condition in (csr.get("status") or {}).get("conditions") or []
    }
    certificate = certificate_of(csr)
    if certificate and _expired(certificate, now):
        return True
    if not conditions.keys() & {"Approved", "Denied", "Failed"}:
        created = parse_timestamp(csr["metadata"].get("creationTimestamp") or "")
        return created is not None and now > created + PENDING_EXPIRATION
    for kind in ("Denied", "Failed"):
        if kind in conditions and _updated_before(conditions[kind], now - DENIED_EXPIRATION):
            return True
    return bool(
        certificate
        and "Approved" in conditions
        and _updated_before(conditions["Approved"], now - APPROVED_EXPIRATION)
    )


def _updated_before(condition: Object, deadline: datetime) -> bool:
    updated = parse_timestamp(condition.get("lastUpdateTime") or "")
    return updated is not None and updated < deadline


def _expired(pem: bytes, now: datetime) -> bool:
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return False
    return any(now > certificate.not_valid_after_utc for certificate in certificates)


class CsrCleaner:
    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._now = lambda: datetime.fromtimestamp(context.wall_clock(), UTC)
        self._csrs = Lister(context.informers.informer(CSRS).store)

    async def run(self) -> None:
        while True:
            await self.clean()
            await asyncio.sleep(POLLING_INTERVAL)

    async def clean(self) -> None:
        """One pass: delete every stale request."""
        now = self._now()
        for csr in self._csrs.list():
            if not is_stale(csr, now):
                continue
            name = csr["metadata"]["name"]
            try:
                await self._client.delete(CSRS, name)
            except errors.NotFound:
                continue
            except errors.ApiError as error:
                log.warning("unable to delete certificate signing request %s: %s", name, error)
                continue
            log.info("deleted stale certificate signing request %s", name)


CONTROLLER = ControllerDescriptor(name="csrcleaner", build=CsrCleaner)
