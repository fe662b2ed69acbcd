"""The DNS server: UDP and TCP on one address, answering from an :class:`Answerer` and
forwarding what it does not answer to upstream servers (or refusing it).

A query the store answers is answered synchronously in the datagram callback
(no task per query), its encoded response kept for the same query bytes
until the store changes (:mod:`pynetes.dns.cache`); only forwarded queries
become tasks and are never cached. UDP responses are
cut to the client's size (512 bytes, or its EDNS payload size) and marked
truncated (TC) when larger, so the client asks again over TCP. TCP
connections carry any number of length-prefixed queries (RFC 7766) and are
closed after :data:`TCP_IDLE` seconds without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Sequence
from typing import cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from pynetes.dns.answer import Answerer
from pynetes.dns.cache import DEFAULT_LIMIT, AnswerCache, Entry
from pynetes.dns.metrics import DnsMetrics

log = logging.getLogger(__name__)

#: Seconds a TCP connection may stay idle (CoreDNS's read timeout).
TCP_IDLE = 10.0
#: Seconds to wait for each upstream server before trying the next.
UPSTREAM_TIMEOUT = 2.0
#: The largest UDP response without EDNS (RFC 1035).
CLASSIC_UDP_SIZE = 512

Address = tuple[str, int]


class Forwarder:
    """Sends a query to each upstream in turn until one answers (CoreDNS's ``forward``,
    sequential policy). Used only with ``--upstream``."""

    def __init__(self, upstreams: Sequence[Address], timeout: float = UPSTREAM_TIMEOUT) -> None:
        self.upstreams = tuple(upstreams)
        self._timeout = timeout

    async def forward(self, query: dns.message.Message, *, tcp: bool) -> dns.message.Message:
        """The first upstream's response; SERVFAIL when none answers."""
        for host, port in self.upstreams:
            try:
                if tcp:
                    return await dns.asyncquery.tcp(query, host, port=port, timeout=self._timeout)
                response, _ = await dns.asyncquery.udp_with_fallback(
                    query, host, port=port, timeout=self._timeout
                )
                return response
            except (OSError, dns.exception.DNSException) as error:
                log.warning("upstream %s:%d failed: %s", host, port, error)
        failed = dns.message.make_response(query)
        failed.set_rcode(dns.rcode.SERVFAIL)
        return failed


class DnsServer:
    """Serves ``answerer`` on UDP and TCP at one address."""

    def __init__(
        self,
        answerer: Answerer,
        metrics: DnsMetrics,
        forwarder: Forwarder | None = None,
        *,
        cache_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self.answerer = answerer
        self.metrics = metrics
        self.forwarder = forwarder
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._cache = AnswerCache(answerer.store, cache_limit)

    async def start(self, host: str, port: int) -> Address:
        """Listen on ``host:port`` (port 0: a free one, the same for UDP and TCP); the address."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._tcp = await asyncio.start_server(self._connection, host, port, family=family)
        bound = self._tcp.sockets[0].getsockname()[:2]
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(host, bound[1]), family=family
        )
        log.info("serving DNS on %s:%d (udp, tcp)", host, bound[1])
        return bound[0], bound[1]

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def respond(
        self, wire: bytes, *, proto: str, family: int
    ) -> bytes | asyncio.Task[bytes] | None:
        """The response to ``wire``: bytes when answered here, a task when forwarded,
        None for a message that cannot be parsed (dropped, as CoreDNS drops them)."""
        started = time.perf_counter()
        cached = self._cache.get(proto, wire)
        if cached is not None:
            self._observe(cached, proto, family, started)
            return wire[:2] + cached.body
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = self.answerer.answer(query)
        if response is None and self.forwarder is not None:
            return asyncio.ensure_future(self._forwarded(query, proto, family, started))
        if self.forwarder is not None and response is not None:
            target = _external_target(self.answerer, response)
            if target is not None:
                chase = self._chased(query, response, target, proto, family, started)
                return asyncio.ensure_future(chase)
        plugin = "kubernetes"
        if response is None:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.REFUSED)
            plugin = ""
        entry = self._finish(query, response, proto, family, started, plugin)
        self._cache.put(proto, wire, entry)
        return wire[:2] + entry.body

    async def _forwarded(
        self, query: dns.message.Message, proto: str, family: int, started: float
    ) -> bytes:
        assert self.forwarder is not None
        response = await self.forwarder.forward(query, tcp=proto == "tcp")
        entry = self._finish(query, response, proto, family, started, "forward")
        return struct.pack("!H", query.id) + entry.body

    async def _chased(
        self,
        query: dns.message.Message,
        response: dns.message.Message,
        target: dns.name.Name,
        proto: str,
        family: int,
        started: float,
    ) -> bytes:
        """``response`` (ending in a CNAME to ``target``, outside the zones) with the
        upstream's answer for ``target`` (as CoreDNS resolves ExternalName targets);
        never cached: the upstream's records are not the store's."""
        assert self.forwarder is not None
        chased = dns.message.make_query(target, query.question[0].rdtype)
        upstream = await self.forwarder.forward(chased, tcp=proto == "tcp")
        response.answer.extend(upstream.answer)
        entry = self._finish(query, response, proto, family, started, "kubernetes")
        return struct.pack("!H", query.id) + entry.body

    def _finish(
        self,
        query: dns.message.Message,
        response: dns.message.Message,
        proto: str,
        family: int,
        started: float,
        plugin: str,
    ) -> Entry:
        """``response`` encoded for ``proto`` (without its ID), counted in the metrics."""
        question = query.question[0] if query.question else None
        entry = Entry(
            _to_wire(query, response, udp=proto == "udp")[2:],
            dns.rdatatype.to_text(question.rdtype) if question is not None else "other",
            dns.rcode.to_text(response.rcode()),
            plugin,
        )
        self._observe(entry, proto, family, started)
        return entry

    def _observe(self, entry: Entry, proto: str, family: int, started: float) -> None:
        self.metrics.observe(
            proto=proto,
            family=family,
            qtype=entry.qtype,
            rcode=entry.rcode,
            plugin=entry.plugin,
            seconds=time.perf_counter() - started,
        )

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep ``task`` (a forwarded query's reply) until it is done; cancelled on stop."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        family = 2 if writer.get_extra_info("socket").family == socket.AF_INET6 else 1
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    wire = await reader.readexactly(length)
                reply = self.respond(wire, proto="tcp", family=family)
                if reply is None:
                    break
                data = reply if isinstance(reply, bytes) else await reply
                writer.write(struct.pack("!H", len(data)) + data)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        family = 2 if ":" in str(addr[0]) else 1
        reply = self._server.respond(data, proto="udp", family=family)
        if isinstance(reply, bytes):
            self._send(reply, addr)
        elif reply is not None:
            self._server.track(asyncio.ensure_future(self._send_later(reply, addr)))

    async def _send_later(self, reply: asyncio.Task[bytes], addr: tuple[str | object, ...]) -> None:
        self._send(await reply, addr)

    def _send(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)


def _external_target(answerer: Answerer, response: dns.message.Message) -> dns.name.Name | None:
    """The target of the CNAME ``response`` ends with when it is outside the answerer's
    zones and the query asked for another type (None otherwise)."""
    if not response.answer or response.answer[-1].rdtype != dns.rdatatype.CNAME:
        return None
    if response.question[0].rdtype in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
        return None
    target: dns.name.Name = response.answer[-1][0].target
    return None if answerer.serves(target) else target


def _to_wire(query: dns.message.Message, response: dns.message.Message, *, udp: bool) -> bytes:
    """``response`` on the wire; over UDP cut to what the client takes, with TC set."""
    if not udp:
        return response.to_wire()
    limit = max(query.payload, CLASSIC_UDP_SIZE) if query.edns >= 0 else CLASSIC_UDP_SIZE
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)
