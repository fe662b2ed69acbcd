"""Where a listener sends its traffic: a service port's balancer, and the sockets
listeners bind."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pynetes.proxy.userspace.balancer import RoundRobin


@dataclass
class Route:
    """One service port as seen from one kind of address (cluster or external: an
    external route of a ``Local`` Service only has this node's endpoints). Listeners
    share it; a sync updates its balancer in place."""

    name: str
    balancer: RoundRobin


def bound_socket(ip: str, port: int, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket bound to ``ip:port`` (OSError if it cannot be).

    SO_REUSEADDR lets a TCP listener be bound again while connections it
    accepted still use its address.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setblocking(False)
        sock.bind((ip, port))
    except OSError:
        sock.close()
        raise
    return sock
