"""TCP: a listener per service address; each accepted connection dialled to an
endpoint and handed to the :class:`~pynetes.proxy.userspace.relay.Relay`.

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

from pynetes.proxy.userspace.relay import Relay
from pynetes.proxy.userspace.route import Route, bound_socket

log = logging.getLogger(__name__)

#: How long each successive endpoint may take to accept (upstream's EndpointDialTimeouts).
DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)
BACKLOG = 1024
#: How long accepting pauses when the process is out of file descriptors or memory.
ACCEPT_PAUSE = 1.0


async def dial(route: Route, client_ip: str) -> socket.socket | None:
    """A connection to an endpoint of ``route`` for ``client_ip``; None if none answered."""
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
                return await _connect(endpoint)
        except (OSError, TimeoutError) as error:
            log.info("%s: endpoint %s:%d failed: %s", route.name, *endpoint, error or "timeout")
    return None


async def _connect(endpoint: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in endpoint[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        _no_delay(sock)
        await asyncio.get_running_loop().sock_connect(sock, endpoint)
    except BaseException:
        sock.close()
        raise
    return sock


class TcpListener:
    """``ip:port`` of one service port: listening while its route has endpoints."""

    def __init__(self, ip: str, port: int, route: Route, relay: Relay) -> None:
        self.ip, self.port, self.route = ip, port, route
        self._relay = relay
        self._socket = bound_socket(ip, port, socket.SOCK_STREAM)
        self._listening = False
        self._dialling: set[asyncio.Task[None]] = set()

    async def refresh(self) -> None:
        """Listen if the route has an endpoint to send to, else refuse."""
        serving = bool(self.route.balancer.endpoints)
        if serving and not self._listening:
            self._socket.listen(BACKLOG)
            asyncio.get_running_loop().add_reader(self._socket, self._accept)
            self._listening = True
        elif not serving and self._listening:
            self._stop_listening()
            self._socket = bound_socket(self.ip, self.port, socket.SOCK_STREAM)

    async def close(self) -> None:
        """Stop listening; connections being dialled go on and are joined."""
        self._stop_listening()

    def _stop_listening(self) -> None:
        if self._listening:
            asyncio.get_running_loop().remove_reader(self._socket)
            self._listening = False
        self._socket.close()

    def _accept(self) -> None:
        """Take every connection waiting, and dial an endpoint for each."""
        for _ in range(BACKLOG):
            try:
                client, address = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionError:  # reset by the client before it was accepted
                continue
            except OSError as error:  # out of file descriptors or memory
                log.warning("%s: accept failed: %s; pausing", self.route.name, error)
                self._pause_accepting()
                return
            client.setblocking(False)
            _no_delay(client)
            task = asyncio.create_task(self._join(client, address[0]), name="proxy dial")
            self._dialling.add(task)
            task.add_done_callback(self._dialling.discard)

    def _pause_accepting(self) -> None:
        """Stop accepting for a while (asyncio's servers do the same), instead of
        being woken at once for the connection that cannot be taken."""
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._socket)

        def resume() -> None:
            if self._listening:
                loop.add_reader(self._socket, self._accept)

        loop.call_later(ACCEPT_PAUSE, resume)

    async def _join(self, client: socket.socket, client_ip: str) -> None:
        try:
            backend = await dial(self.route, client_ip)
        except BaseException:
            client.close()
            raise
        if backend is None:
            _reset(client)
            return
        self._relay.join(client, backend)


def _no_delay(sock: socket.socket) -> None:
    """Send small writes at once, as asyncio does for its TCP transports."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _reset(sock: socket.socket) -> None:
    """Close with a RST (linger 0), as a refused connection would be."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
