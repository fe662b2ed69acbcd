"""A smaller read buffer for every TLS connection of a component process.

asyncio gives each TLS connection, client or server side, a read buffer of
``SSLProtocol.max_size`` (256 KiB) and zero-fills it when the connection opens, so
all of it is resident at once. A Kubernetes component holds one connection per
watch over HTTP/1.1 (upstream multiplexes them over one HTTP/2 connection): the
controller manager's 40-odd watches, and the API server serving them, carried about
10 MB of these buffers each on an idle single-node cluster.

64 KiB still takes four full TLS records (16 KiB each) per read, so large bodies
(a LIST of thousands of pods) are read in as few system calls as matter.
"""

from __future__ import annotations

from asyncio import sslproto

#: Bytes read from a TLS socket at a time, and the size of each connection's buffer.
TLS_READ_BUFFER_BYTES = 64 * 1024


def limit_tls_read_buffers(size: int = TLS_READ_BUFFER_BYTES) -> None:
    """Give the TLS connections opened from now on a read buffer of ``size`` bytes."""
    sslproto.SSLProtocol.max_size = size
