"""The userspace proxy's relay thread, between real TCP connections on loopback:
an application at each end, the relay joining the two sockets in the middle."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pynetes.proxy.userspace.relay import Relay

GUARD = 10.0


def tcp_pair(*, small: bool = False) -> tuple[socket.socket, socket.socket]:
    """Two ends of one loopback TCP connection, with 4 KiB buffers if ``small``
    (set before connecting, as the window is agreed then)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        outside = socket.socket()
        for sock in (outside, listener) if small else ():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        outside.connect(listener.getsockname())
        inside, _ = listener.accept()
    for sock in (outside, inside):
        sock.settimeout(GUARD)
    return outside, inside


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    yield relay
    relay.stop()


@pytest.fixture
def joined(relay: Relay) -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client, server): what one writes, the other reads, through ``relay``."""
    # large buffers on the client's connection, small ones on the server's: the
    # relay reads more from the client at a time than the server's connection takes,
    # and writes what is left in parts
    client, proxy_front = tcp_pair()
    proxy_back, server = tcp_pair(small=True)
    relay.join(proxy_front, proxy_back)
    yield client, server
    client.close()
    server.close()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_bytes_cross_both_ways_in_order_and_intact_under_back_pressure(
    joined: tuple[socket.socket, socket.socket],
) -> None:
    client, server = joined
    # 8 MiB each way, far more than the sockets' buffers: the relay must pause the
    # side it cannot write for, and resume it, without losing or reordering bytes
    upload = b"".join(struct.pack(">I", n) for n in range(2 * 1024 * 1024))
    download = upload[::-1]
    received: dict[str, bytes] = {}

    def end(sock: socket.socket, data: bytes, name: str) -> None:
        def send() -> None:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        received[name] = read_all(sock)
        sender.join()

    threads = [
        threading.Thread(target=end, args=(client, upload, "client")),
        threading.Thread(target=end, args=(server, download, "server")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert received == {"server": upload, "client": download}


def test_a_half_close_is_passed_on_and_the_answer_still_arrives(
    relay: Relay, joined: tuple[socket.socket, socket.socket]
) -> None:
    client, server = joined
    client.sendall(b"ping")
    client.shutdown(socket.SHUT_WR)
    assert read_all(server) == b"ping"  # the EOF arrived after the bytes
    server.sendall(b"pong")
    server.close()
    assert read_all(client) == b"pong"
    wait_until(lambda: len(relay) == 0)


def test_a_reset_end_closes_its_peer(
    relay: Relay, joined: tuple[socket.socket, socket.socket]
) -> None:
    client, server = joined
    client.sendall(b"hello")
    assert server.recv(5) == b"hello"
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()  # a RST, not a FIN
    assert client.recv(10) == b""
    wait_until(lambda: len(relay) == 0)


def test_pairs_are_independent(relay: Relay) -> None:
    ends = []
    for _ in range(3):
        client, front = tcp_pair()
        back, server = tcp_pair()
        relay.join(front, back)
        ends.append((client, server))
    wait_until(lambda: len(relay) == 3)
    ends[0][0].close()
    ends[0][1].close()
    for index, (client, server) in enumerate(ends[1:]):
        client.sendall(f"to {index}".encode())
        assert server.recv(10) == f"to {index}".encode()
    wait_until(lambda: len(relay) == 2)
    for client, server in ends[1:]:
        client.close()
        server.close()


def test_stop_closes_every_pair_and_a_later_join_closes_its_sockets() -> None:
    relay = Relay()
    client, front = tcp_pair()
    back, server = tcp_pair()
    relay.join(front, back)
    client.sendall(b"x")
    assert server.recv(1) == b"x"
    relay.stop()
    assert client.recv(1) == b""
    assert server.recv(1) == b""
    late_front, late_back = socket.socket(), socket.socket()
    relay.join(late_front, late_back)
    assert late_front.fileno() == -1 and late_back.fileno() == -1
    for sock in (client, server):
        sock.close()
