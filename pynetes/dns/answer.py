"""Answers to DNS queries from the record store, as the specification says.

For a name in the cluster zone or a reverse zone: the records of the asked
type (any type holds a CNAME, an ExternalName Service, which is answered
instead); NODATA (NOERROR, no answer) for a name that exists without that
type; NXDOMAIN for a name that does not exist; both negative answers carry
the zone's SOA in the authority section, whose minimum is the TTL (RFC
2308). With ``pods insecure`` any ``<dashed ip>.<ns>.pod.<zone>`` has the
A/AAAA record of its IP. Names outside these zones are not answered here:
:meth:`Answerer.answer` returns None and the server forwards them, or
refuses them when it has no upstream. An unknown reverse name is forwarded
too when there is an upstream (CoreDNS's ``fallthrough in-addr.arpa ip6.arpa``).
"""

from __future__ import annotations

import enum

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdata import Rdata
from dns.rdtypes.ANY.SOA import SOA

from pynetes.dns import names, records
from pynetes.dns.store import RecordStore

#: CNAME links followed inside the zone at most (a loop of ExternalNames ends).
MAX_CHASE = 8
#: CoreDNS's SOA timers (refresh, retry, expire); the minimum is the TTL.
SOA_TIMERS = (7200, 1800, 86400)


class PodMode(enum.StrEnum):
    """CoreDNS's ``pods`` option: no pod records, any dashed IP, or pods that exist."""

    DISABLED = "disabled"
    INSECURE = "insecure"
    VERIFIED = "verified"


class Answerer:
    """Builds responses for one cluster zone from ``store``."""

    def __init__(
        self,
        store: RecordStore,
        cluster_zone: dns.name.Name,
        *,
        ttl: int = 30,
        pods: PodMode = PodMode.INSECURE,
        forwarding: bool = False,
    ) -> None:
        self.store = store
        self.zone = cluster_zone
        self.ttl = ttl
        self.pods = pods
        self._forwarding = forwarding
        self._pod_zone = names.pod_zone(cluster_zone)
        self._soas: dict[dns.name.Name, tuple[int, dns.rrset.RRset]] = {}

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response to ``query``; None when it is to be forwarded (or refused)."""
        response = dns.message.make_response(query)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if len(query.question) == 1 else dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self._zone_of(qname)
        if zone is None or question.rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
            if self._forwarding:
                return None
            response.set_rcode(dns.rcode.REFUSED)
            return response
        found = self._lookup(qname)
        if found is None and zone != self.zone and self._forwarding:
            return None
        response.flags |= dns.flags.AA
        if found is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(zone))
            return response
        if qname == zone and qtype in (dns.rdatatype.SOA, dns.rdatatype.ANY):
            response.answer.append(self._soa(zone))
        matching = _of_type(found, qtype)
        for rdatas in matching.values():
            response.answer.append(dns.rrset.from_rdata_list(qname, self.ttl, rdatas))
        if not response.answer:
            response.authority.append(self._soa(zone))
        elif dns.rdatatype.CNAME in matching and qtype != dns.rdatatype.CNAME:
            self._chase(response, qtype)
        elif qtype == dns.rdatatype.SRV:
            self._add_targets(response, matching.get(dns.rdatatype.SRV, []))
        return response

    def serves(self, name: dns.name.Name) -> bool:
        """Whether ``name`` is in a zone this answerer is authoritative for."""
        return self._zone_of(name) is not None

    def _chase(self, response: dns.message.Message, qtype: int) -> None:
        """Follow the CNAME chain of ``response`` through the cluster zone (an
        ExternalName naming another Service), at most :data:`MAX_CHASE` links; a
        target outside it is left to the server (its upstream, if any)."""
        for _ in range(MAX_CHASE):
            target = response.answer[-1][0].target
            if not target.is_subdomain(self.zone):
                return
            found = self._lookup(target) or ()
            matching = _of_type(found, qtype)
            for rdatas in matching.values():
                response.answer.append(dns.rrset.from_rdata_list(target, self.ttl, rdatas))
            if dns.rdatatype.CNAME not in matching:
                return

    def _add_targets(self, response: dns.message.Message, srvs: list[Rdata]) -> None:
        """The addresses of SRV targets in the additional section (as the
        specification allows and CoreDNS does)."""
        for target in dict.fromkeys(srv.target for srv in srvs):
            found = self._lookup(target) or ()
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rdatas = [rdata for rdata in found if rdata.rdtype == rdtype]
                if rdatas:
                    response.additional.append(dns.rrset.from_rdata_list(target, self.ttl, rdatas))

    def _zone_of(self, qname: dns.name.Name) -> dns.name.Name | None:
        if qname.is_subdomain(self.zone):
            return self.zone
        return names.reverse_zone(qname)

    def _lookup(self, qname: dns.name.Name) -> tuple[Rdata, ...] | None:
        found = self.store.lookup(qname)
        if found is not None or self.pods != PodMode.INSECURE:
            return found
        if qname == self._pod_zone or qname.parent() == self._pod_zone:
            return ()
        if len(qname) == len(self._pod_zone) + 2 and qname.is_subdomain(self._pod_zone):
            ip = names.undashed(qname.labels[0].decode())
            return (records.address(ip),) if ip is not None else None
        return None

    def _soa(self, zone: dns.name.Name) -> dns.rrset.RRset:
        """The SOA of ``zone`` with the store's serial (made again only when it changes)."""
        cached = self._soas.get(zone)
        if cached is not None and cached[0] == self.store.serial:
            return cached[1]
        soa = SOA(
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            records.ns_name(self.zone),
            dns.name.Name((b"hostmaster", *self.zone.labels)),
            self.store.serial,
            *SOA_TIMERS,
            self.ttl,
        )
        rrset = dns.rrset.from_rdata_list(zone, self.ttl, [soa])
        self._soas[zone] = (self.store.serial, rrset)
        return rrset


def _of_type(found: tuple[Rdata, ...], qtype: int) -> dict[int, list[Rdata]]:
    """``found`` grouped by type, keeping ``qtype`` (all for ANY; a CNAME for any type)."""
    grouped: dict[int, list[Rdata]] = {}
    cname = [rdata for rdata in found if rdata.rdtype == dns.rdatatype.CNAME]
    if cname and qtype != dns.rdatatype.CNAME:
        return {dns.rdatatype.CNAME: cname}
    for rdata in found:
        if qtype in (rdata.rdtype, dns.rdatatype.ANY):
            grouped.setdefault(rdata.rdtype, []).append(rdata)
    return grouped
