"""SPDY/3.1 framing, as far as kubectl's port-forward uses it.

kubectl (every version) forwards ports over SPDY/3.1 (moby/spdystream):
1.31 and later carry the SPDY bytes inside binary WebSocket messages
(subprotocol ``SPDY/3.1+portforward.k8s.io``). This module reads and writes
the frames of the draft specification (draft-mbelshe-httpbis-spdy-00, version 3):

- a control frame: ``1`` bit set, 15-bit version (3), 16-bit type, 8-bit
  flags, 24-bit length, then the type's payload;
- a data frame: ``0`` bit, 31-bit stream id, 8-bit flags (``FLAG_FIN``),
  24-bit length, then the data.

Header blocks (in SYN_STREAM, SYN_REPLY and HEADERS) are a 32-bit count of
name/value pairs, each a 32-bit length and bytes, compressed with zlib
primed with the specification's dictionary; one compression context per
direction lasts the whole connection and every block ends with a sync flush.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Iterator
from typing import Final

VERSION: Final = 3
FLAG_FIN: Final = 0x01

SYN_STREAM: Final = 1
SYN_REPLY: Final = 2
RST_STREAM: Final = 3
SETTINGS: Final = 4
PING: Final = 6
GOAWAY: Final = 7
HEADERS: Final = 8
WINDOW_UPDATE: Final = 9

#: RST_STREAM status codes.
PROTOCOL_ERROR: Final = 1
CANCEL: Final = 5

_HEADER = struct.Struct(">II")
_STREAM_ID_MASK: Final = 0x7FFFFFFF
_LENGTH_MASK: Final = 0xFFFFFF
#: The largest frame accepted; spdystream's own limit is the 24-bit length.
MAX_FRAME_LENGTH: Final = _LENGTH_MASK

# The dictionary zlib is primed with (section 2.6.10.1): header names and
# common values, each after its 32-bit big-endian length, then a text tail.
# fmt: off
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
    "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
    "if-range", "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin",
)
# fmt: on
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416"
    "417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server"
    " Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug"
    " Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,"
    "text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
    "charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    prefixed = b"".join(struct.pack(">I", len(word)) + word.encode() for word in _DICTIONARY_WORDS)
    return prefixed + _DICTIONARY_TAIL.encode()


DICTIONARY: Final = _dictionary()


class ProtocolError(Exception):
    """The peer sent what SPDY/3.1 does not allow; the connection cannot go on."""


@dataclasses.dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    flags: int
    data: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclasses.dataclass(frozen=True, slots=True)
class ControlFrame:
    type: int
    flags: int
    payload: bytes

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    def stream_id(self) -> int:
        """The stream a SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS or WINDOW_UPDATE is about."""
        if len(self.payload) < 4:
            raise ProtocolError(f"control frame {self.type} too short")
        return int.from_bytes(self.payload[:4], "big") & _STREAM_ID_MASK


Frame = DataFrame | ControlFrame


class FrameReader:
    """Frames from a byte stream fed in pieces of any size (WebSocket messages, TCP reads)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame]:
        """The frames ``data`` completes, in order; ProtocolError for a bad one."""
        self._buffer += data
        while len(self._buffer) >= _HEADER.size:
            first, second = _HEADER.unpack_from(self._buffer)
            length = second & _LENGTH_MASK
            end = _HEADER.size + length
            if len(self._buffer) < end:
                return
            payload = bytes(self._buffer[_HEADER.size : end])
            del self._buffer[:end]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                yield ControlFrame(first & 0xFFFF, flags, payload)
            else:
                yield DataFrame(first & _STREAM_ID_MASK, flags, payload)


class HeaderCodec:
    """Header blocks of one connection: one zlib context for each direction."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def decode(self, block: bytes) -> dict[str, list[str]]:
        """Lower-cased names and their values (a value holding NULs is several)."""
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as error:
            raise ProtocolError(f"undecodable header block: {error}") from None
        headers: dict[str, list[str]] = {}
        try:
            (count,) = struct.unpack_from(">I", raw)
            offset = 4
            for _ in range(count):
                name, offset = _string(raw, offset)
                value, offset = _string(raw, offset)
                headers.setdefault(name.lower(), []).extend(value.split("\0"))
        except (struct.error, UnicodeDecodeError):
            raise ProtocolError("malformed header block") from None
        return headers

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            _pack(name.lower()) + _pack(value) for name, value in headers.items()
        )
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def _string(raw: bytes, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from(">I", raw, offset)
    end = offset + 4 + length
    if end > len(raw):
        raise struct.error("string past the block")
    return raw[offset + 4 : end].decode(), end


def _pack(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">I", len(data)) + data


def control(frame_type: int, payload: bytes, flags: int = 0) -> bytes:
    return (
        _HEADER.pack(0x80000000 | (VERSION << 16) | frame_type, (flags << 24) | len(payload))
        + payload
    )


def data(stream_id: int, chunk: bytes, *, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return _HEADER.pack(stream_id & _STREAM_ID_MASK, (flags << 24) | len(chunk)) + chunk


def syn_reply(stream_id: int, header_block: bytes) -> bytes:
    return control(SYN_REPLY, struct.pack(">I", stream_id) + header_block)


def rst_stream(stream_id: int, status: int) -> bytes:
    return control(RST_STREAM, struct.pack(">II", stream_id, status))


def goaway(last_stream_id: int) -> bytes:
    return control(GOAWAY, struct.pack(">II", last_stream_id, 0))


def syn_stream_headers(frame: ControlFrame) -> bytes:
    """The header block of a SYN_STREAM (after stream id, associated id, priority, slot)."""
    if len(frame.payload) < 10:
        raise ProtocolError("SYN_STREAM too short")
    return frame.payload[10:]
