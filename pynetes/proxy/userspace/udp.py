"""UDP: a socket per service address, and a session per client.

A client's first datagram picks an endpoint (round-robin, with affinity)
and opens a socket connected to it; the client's datagrams go there and the
endpoint's answers come back from the service address. A session idle for
the timeout (upstream's ``--udp-timeout``, 250 ms) is closed, as is one
whose endpoint refuses (ICMP port unreachable). With no endpoint, datagrams
are dropped (upstream's userspace proxy did the same).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import cast

from pynetes.proxy.userspace.route import Route, bound_socket

log = logging.getLogger(__name__)

Address = tuple[str, int]


class _Session(asyncio.DatagramProtocol):
    """One client's flow to one endpoint."""

    def __init__(self, listener: UdpListener, client: Address) -> None:
        self._listener = listener
        self._client = client
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: list[bytes] = []
        self._last_active = asyncio.get_running_loop().time()
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # not a subclass in 3.11
        for data in self._pending:
            transport.sendto(data)
        self._pending.clear()
        self._arm(self._listener.idle_timeout)

    def send(self, data: bytes) -> None:
        self._last_active = asyncio.get_running_loop().time()
        if self._transport is None:
            self._pending.append(data)
        else:
            self._transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._last_active = asyncio.get_running_loop().time()
        self._listener.reply(data, self._client)

    def error_received(self, exc: Exception) -> None:
        log.info("%s: session of %s:%d failed: %s", self._listener.route.name, *self._client, exc)
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.forget(self._client, self)
        if self._timer is not None:
            self._timer.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            self._listener.forget(self._client, self)

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        """Close if idle for the timeout, else check again when it could be."""
        idle = asyncio.get_running_loop().time() - self._last_active
        if idle >= self._listener.idle_timeout:
            self.close()
        else:
            self._arm(self._listener.idle_timeout - idle)


class UdpListener(asyncio.DatagramProtocol):
    """``ip:port`` of one UDP service port."""

    def __init__(self, ip: str, port: int, route: Route, idle_timeout: float) -> None:
        self.ip, self.port, self.route = ip, port, route
        self.idle_timeout = idle_timeout
        self._socket: socket.socket | None = bound_socket(ip, port, socket.SOCK_DGRAM)
        self._transport: asyncio.DatagramTransport | None = None
        self._sessions: dict[Address, _Session] = {}
        self._opening: set[asyncio.Task[None]] = set()

    async def refresh(self) -> None:
        """Start receiving (once); UDP has no refusal to switch."""
        if self._socket is not None:
            sock, self._socket = self._socket, None
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # not a subclass in 3.11

    def datagram_received(self, data: bytes, addr: Address) -> None:
        client = (addr[0], addr[1])
        session = self._sessions.get(client)
        if session is None:
            endpoint = self.route.balancer.next(client[0])
            if endpoint is None:
                return
            session = self._sessions[client] = _Session(self, client)
            task = asyncio.create_task(self._open(session, endpoint), name="proxy udp session")
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        session.send(data)

    def reply(self, data: bytes, client: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, client)

    def forget(self, client: Address, session: _Session) -> None:
        if self._sessions.get(client) is session:
            del self._sessions[client]

    async def _open(self, session: _Session, endpoint: Address) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: session, remote_addr=endpoint)
        except OSError as error:
            log.info("%s: endpoint %s:%d failed: %s", self.route.name, *endpoint, error)
            session.close()

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            session.close()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
