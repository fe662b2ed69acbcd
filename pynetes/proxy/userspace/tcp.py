"""TCP: a listener per service address, and a pipe per accepted connection.

A listener whose route has no endpoint keeps its address bound without
listening, so connections are refused by the kernel (upstream's REJECT);
it listens again as soon as an endpoint is ready. Each accepted connection
is joined to an endpoint tried in round-robin order: one that does not
answer within its dial timeout is skipped and the next tried (upstream's
``TryConnectEndpoints``); if none answers the client is reset. Accepted
connections are independent of their listener: a sync that closes or
re-targets a listener leaves them running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import cast

from pynetes.proxy.userspace.route import Route, bound_socket

log = logging.getLogger(__name__)

#: How long each successive endpoint may take to accept (upstream's EndpointDialTimeouts).
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)
BACKLOG = 1024
#: Bytes read from a connection at a time, into a buffer each side keeps. (With a
#: plain Protocol asyncio allocates a 256 KiB bytes object for every read and
#: shrinks it to what arrived, which glibc serves with mmap, mremap and munmap:
#: three more system calls for each read of a small request or answer.)
READ_BUFFER_BYTES = 32 * 1024


class _Side(asyncio.BufferedProtocol):
    """One end of a pipe: what it reads is written to its peer, with back-pressure
    (a peer whose buffer is full pauses this side's reading)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False
        self._write: Callable[[memoryview], None] | None = None
        self._buffer = memoryview(bytearray(READ_BUFFER_BYTES))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # not always a subclass (uvloop)
        self.transport.pause_reading()  # until joined to a peer (asyncio sets TCP_NODELAY)

    def join(self, peer: _Side) -> None:
        assert peer.transport is not None
        self.peer = peer
        self._write = peer.transport.write
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        """Pass on what was read. What the peer's transport cannot send at once it
        keeps, and it may keep it as a view of this buffer (Python 3.12 queues views
        without copying): the next read then goes into a fresh buffer."""
        assert self._write is not None and self.peer is not None
        self._write(self._buffer[:nbytes])
        peer = self.peer.transport
        if peer is not None and peer.get_write_buffer_size():
            self._buffer = memoryview(bytearray(READ_BUFFER_BYTES))

    def eof_received(self) -> bool:
        """Half-close: pass the EOF on and keep writing the peer's answer."""
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return False
        if peer.eof:
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Client(_Side):
    """An accepted connection: joined to an endpoint once one answers."""

    def __init__(self, route: Route) -> None:
        super().__init__()
        self._route = route
        self._connecting: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connecting = asyncio.create_task(self._connect(), name="proxy dial")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        super().connection_lost(exc)

    async def _connect(self) -> None:
        assert self.transport is not None
        client_ip = self.transport.get_extra_info("peername")[0]
        backend = await dial(self._route, client_ip)
        if backend is None:
            _reset(self.transport)
            return
        if self.transport.is_closing():
            assert backend.transport is not None
            backend.transport.close()
            return
        backend.join(self)
        self.join(backend)


async def dial(route: Route, client_ip: str) -> _Side | None:
    """A connection to an endpoint of ``route`` for ``client_ip``; None if none answered."""
    loop = asyncio.get_running_loop()
    tried: set[tuple[str, int]] = set()
    for attempt in range(max(len(route.balancer.endpoints), 1)):
        endpoint = route.balancer.next(client_ip, reset_affinity=attempt > 0)
        if endpoint is None:
            return None
        if endpoint in tried:  # other connections moved the rotation on
            continue
        tried.add(endpoint)
        timeout = DIAL_TIMEOUTS[min(attempt, len(DIAL_TIMEOUTS) - 1)]
        try:
            async with asyncio.timeout(timeout):
                _, side = await loop.create_connection(_Side, *endpoint)
        except (OSError, TimeoutError) as error:
            log.info("%s: endpoint %s:%d failed: %s", route.name, *endpoint, error or "timeout")
            continue
        return side
    return None


class TcpListener:
    """``ip:port`` of one service port: listening while its route has endpoints."""

    def __init__(self, ip: str, port: int, route: Route) -> None:
        self.ip, self.port, self.route = ip, port, route
        self._socket: socket.socket | None = bound_socket(ip, port, socket.SOCK_STREAM)
        self._server: asyncio.Server | None = None

    async def refresh(self) -> None:
        """Listen if the route has an endpoint to send to, else refuse."""
        serving = bool(self.route.balancer.endpoints)
        if serving and self._server is None:
            sock, self._socket = self._socket, None
            assert sock is not None
            self._server = await asyncio.get_running_loop().create_server(
                lambda: _Client(self.route), sock=sock, backlog=BACKLOG
            )
        elif not serving and self._server is not None:
            self._server.close()
            self._server = None
            self._socket = bound_socket(self.ip, self.port, socket.SOCK_STREAM)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _reset(transport: asyncio.Transport) -> None:
    """Close with a RST (linger 0), as a refused connection would be."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
