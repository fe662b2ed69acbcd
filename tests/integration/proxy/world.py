"""A small world for proxy tests and benchmarks: "pods" in network namespaces.

Each :class:`Pod` is a network namespace ``pyn-<name>`` joined to the host by a
veth pair (host side ``.1``, pod side ``.2`` of a /30 inside a test-only private
range), running a real HTTP server that answers every request with the pod's
name (keep-alive, so a benchmark can reuse connections). :func:`local_route`
keeps a service range on the machine (``ip route add local RANGE dev lo``), which
must exist before anything connects to an address in it. Everything made here is
removed by the context managers' exits, also when the body fails.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

#: The pod's server: answers each HTTP request with the pod's name, keeping the
#: connection open until the client closes it, and each UDP datagram to the same
#: port with the name too.
SERVER = r"""
import asyncio, sys
name, port = sys.argv[1].encode(), int(sys.argv[2])
reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(name), name)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            if b"connection: close" in head.lower():
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        self.transport.sendto(name, addr)
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Echo, local_addr=("0.0.0.0", port))
    server = await asyncio.start_server(serve, "0.0.0.0", port, backlog=1024)
    await server.serve_forever()
asyncio.run(main())
"""

POD_PORT = 8080


def ip(*args: str, check: bool = True) -> None:
    """Run ``ip ARGS`` (iproute2)."""
    subprocess.run(["ip", *args], check=check, capture_output=True)


@dataclass
class Pod:
    """One pod: its namespace, addresses and server process."""

    name: str
    netns: str
    host_ip: str
    ip: str
    server: subprocess.Popen[bytes]


@contextlib.contextmanager
def pod(name: str, subnet: str, index: int) -> Iterator[Pod]:
    """A pod ``name`` at ``subnet.(4*index+2)`` (``subnet`` like ``"10.250.17"``),
    its host side at ``.(4*index+1)``; removed on exit. ``name`` has at most 9
    characters (interface names are limited to 15)."""
    netns = f"pyn-{name}"
    host_if, pod_if = f"pyn-{name}-h", f"pyn-{name}-p"
    if len(host_if) > 15:
        raise ValueError(f"pod name {name!r} is too long for an interface name")
    host_ip, pod_ip = f"{subnet}.{4 * index + 1}", f"{subnet}.{4 * index + 2}"
    server: subprocess.Popen[bytes] | None = None
    try:
        ip("netns", "add", netns)
        ip("link", "add", host_if, "type", "veth", "peer", "name", pod_if)
        ip("link", "set", pod_if, "netns", netns)
        ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        inside = ("-n", netns)
        ip(*inside, "addr", "add", f"{pod_ip}/30", "dev", pod_if)
        ip(*inside, "link", "set", pod_if, "up")
        ip(*inside, "link", "set", "lo", "up")
        ip(*inside, "route", "add", "default", "via", host_ip)
        server = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", SERVER, name, str(POD_PORT)]
        )
        wait_for_server(pod_ip, POD_PORT)
        yield Pod(name, netns, host_ip, pod_ip, server)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        ip("link", "del", host_if, check=False)
        ip("netns", "del", netns, check=False)


@contextlib.contextmanager
def local_route(cidr: str) -> Iterator[None]:
    """Keep ``cidr`` on this machine for the duration (a ``local`` route on lo)."""
    ip("route", "add", "local", cidr, "dev", "lo")
    try:
        yield
    finally:
        ip("route", "del", "local", cidr, "dev", "lo", check=False)


def wait_for_server(host: str, port: int, timeout: float = 10.0) -> None:
    """Return once ``host:port`` accepts a connection; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} does not answer") from None
            time.sleep(0.05)


def ask_udp(sock: socket.socket, host: str, port: int, timeout: float = 5.0) -> str:
    """One datagram from ``sock`` to ``host:port``: the answering pod's name."""
    sock.settimeout(timeout)
    sock.sendto(b"?", (host, port))
    return sock.recv(4096).decode()


def get(host: str, port: int, timeout: float = 5.0) -> str:
    """One HTTP request on a new connection: the body (the answering pod's name)."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()
