"""Every component process gives its TLS connections a smaller read buffer."""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto

import pytest

from pynetes.cli.tlsbuffers import TLS_READ_BUFFER_BYTES, limit_tls_read_buffers
from pynetes.pki.certificates import ensure_pki

BODY = bytes(range(256)) * 8192  # 2 MiB, many times the buffer


@pytest.fixture
def limited():
    default = sslproto.SSLProtocol.max_size
    limit_tls_read_buffers()
    yield
    sslproto.SSLProtocol.max_size = default


def _read_buffer_size(writer: asyncio.StreamWriter) -> int:
    """The connection's TLS read buffer (asyncio's own, so that a Python whose asyncio
    stops using ``max_size`` fails here instead of silently keeping 256 KiB)."""
    return len(writer.transport._ssl_protocol._ssl_buffer)  # type: ignore[attr-defined]


async def test_tls_connections_hold_the_smaller_buffer_and_carry_large_bodies(limited, tmp_path):
    pki = ensure_pki(tmp_path, ips=["127.0.0.1"])
    server_buffers: list[int] = []

    async def echo_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_buffers.append(_read_buffer_size(writer))
        received = await reader.readexactly(len(BODY))
        writer.write(received)
        await writer.drain()
        writer.close()

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.serving_cert, pki.serving_key)
    server = await asyncio.start_server(echo_length, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    client_context = ssl.create_default_context(cafile=str(pki.ca_cert))
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        client_buffer = _read_buffer_size(writer)
        writer.write(BODY)
        echoed = await reader.readexactly(len(BODY))
        writer.close()
    assert echoed == BODY
    # asyncio's default is 256 KiB, zero-filled (resident) for each connection
    assert server_buffers == [TLS_READ_BUFFER_BYTES]
    assert client_buffer == TLS_READ_BUFFER_BYTES
