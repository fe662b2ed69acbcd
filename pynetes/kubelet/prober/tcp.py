"""The tcpSocket probe, and Go's texts for failed dials (the HTTP probe quotes them too)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from pynetes.kubelet.prober.ports import join_host_port
from pynetes.kubelet.prober.results import ProbeOutcome, ProbeResult


def dial_error_text(host: str, port: int, error: BaseException) -> str:
    """Go's dialer's text for ``error``: ``dial tcp 127.0.0.1:80: connect: connection refused``."""
    address = join_host_port(host, port)
    if isinstance(error, TimeoutError):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(error, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(error, OSError) and error.errno is not None:
        reason = os.strerror(error.errno)
        return f"dial tcp {address}: connect: {reason[:1].lower()}{reason[1:]}"
    return f"dial tcp {address}: {error}"


async def tcp_probe(host: str, port: int, time_limit: float) -> ProbeOutcome:
    """Success when a TCP connection to ``host:port`` opens within ``time_limit`` seconds."""
    try:
        async with asyncio.timeout(time_limit):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as error:
        return ProbeOutcome(ProbeResult.FAILURE, dial_error_text(host, port, error))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeOutcome(ProbeResult.SUCCESS)
