"""SPDY/3.1 frames and header blocks, and the port-forward and exec sessions fed frames as kubectl
sends them, against a fake kubelet WebSocket (the real one is tested with kubectl in
tests/integration/kubelet/test_server.py)."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest
from aiohttp import WSMsgType

from pynetes.api.errors import ApiError
from pynetes.apiserver import spdy
from pynetes.apiserver.portforward import SpdyPortForward
from pynetes.apiserver.remotecommand import SpdyRemoteCommand, expected_streams


def test_the_dictionary_is_the_specifications() -> None:
    # The zlib stream names its dictionary by Adler-32; SPDY/3's is 0xe3c6a7c2 (1423 bytes).
    assert (len(spdy.DICTIONARY), zlib.adler32(spdy.DICTIONARY)) == (1423, 0xE3C6A7C2)


def test_header_blocks_round_trip_through_one_context_per_direction() -> None:
    sender, receiver = spdy.HeaderCodec(), spdy.HeaderCodec()
    first = {"streamType": "error", "port": "8080", "requestID": "0"}
    second = {"streamType": "data", "port": "8080", "requestID": "0"}
    decoded = [receiver.decode(sender.encode(headers)) for headers in (first, second)]
    assert decoded == [
        {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]},
        {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]},
    ]


def test_frames_are_read_from_pieces_of_any_size() -> None:
    wire = spdy.control(spdy.PING, struct.pack(">I", 7)) + spdy.data(3, b"hello", fin=True)
    reader = spdy.FrameReader()
    frames = [frame for byte in wire for frame in reader.feed(bytes((byte,)))]
    assert frames == [
        spdy.ControlFrame(spdy.PING, 0, struct.pack(">I", 7)),
        spdy.DataFrame(3, spdy.FLAG_FIN, b"hello"),
    ]
    assert frames[1].fin


@pytest.mark.parametrize(
    "block",
    [b"not zlib at all", zlib.compress(b"\x00\x00\x00\x02\x00\x00\x00\x09port")],
    ids=["not zlib", "without the dictionary"],
)
def test_a_bad_header_block_is_a_protocol_error(block: bytes) -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderCodec().decode(block)


def test_a_truncated_header_block_is_a_protocol_error() -> None:
    deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
    block = deflate.compress(b"\x00\x00\x00\x02\x00\x00\x00\x09port") + deflate.flush(
        zlib.Z_SYNC_FLUSH
    )
    with pytest.raises(spdy.ProtocolError, match="malformed"):
        spdy.HeaderCodec().decode(block)


def test_another_version_is_a_protocol_error() -> None:
    frame = struct.pack(">II", 0x80000000 | (2 << 16) | spdy.PING, 4) + b"\0\0\0\1"
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        list(spdy.FrameReader().feed(frame))


class FakeKubelet:
    """The kubelet's port-forward WebSocket for one port: it announces the port on both
    channels, answers each client frame upper-cased, and ends when told."""

    def __init__(self, port: int) -> None:
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        header = port.to_bytes(2, "little")
        for channel in (0, 1):
            self.messages.put_nowait(_Message(WSMsgType.BINARY, bytes((channel,)) + header))
        self.closed = False

    async def send_bytes(self, data: bytes) -> None:
        await self.messages.put(_Message(WSMsgType.BINARY, data[:1] + data[1:].upper()))

    def end(self) -> None:
        self.messages.put_nowait(None)

    async def close(self) -> None:
        self.closed = True

    def __aiter__(self) -> FakeKubelet:
        return self

    async def __anext__(self) -> Any:
        message = await self.messages.get()
        if message is None:
            raise StopAsyncIteration
        return message


class _Message:
    def __init__(self, type: WSMsgType, data: bytes) -> None:
        self.type, self.data = type, data


class Kubectl:
    """What kubectl sends: SYN_STREAMs with compressed headers, data frames; and what it
    received, read back as frames."""

    def __init__(self) -> None:
        self.headers = spdy.HeaderCodec()
        self.sent: list[bytes] = []
        self.reader = spdy.FrameReader()
        self.received: list[spdy.Frame] = []
        self.replies = spdy.HeaderCodec()

    async def receive(self, data: bytes) -> None:
        self.received.extend(self.reader.feed(data))

    def open(self, stream_id: int, **headers: str) -> bytes:
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + self.headers.encode(headers)
        return spdy.control(spdy.SYN_STREAM, payload)

    def resets(self) -> list[tuple[int, int]]:
        """(stream, status) of each RST_STREAM received."""
        return [
            struct.unpack(">II", f.payload)
            for f in self.received
            if isinstance(f, spdy.ControlFrame) and f.type == spdy.RST_STREAM
        ]

    def data_on(self, stream_id: int) -> bytes:
        return b"".join(
            f.data
            for f in self.received
            if isinstance(f, spdy.DataFrame) and f.stream_id == stream_id
        )

    def finished(self, stream_id: int) -> bool:
        return any(
            isinstance(f, spdy.DataFrame) and f.stream_id == stream_id and f.fin
            for f in self.received
        )


async def test_a_stream_pair_is_forwarded_to_the_kubelet_and_finished_with_it() -> None:
    kubectl = Kubectl()
    kubelets: dict[int, FakeKubelet] = {}

    async def dial(port: int) -> Any:
        kubelets[port] = FakeKubelet(port)
        return kubelets[port]

    session = SpdyPortForward(kubectl.receive, dial)
    await session.feed(kubectl.open(1, streamType="error", port="8080", requestID="0"))
    await session.feed(spdy.data(1, b"", fin=True))  # kubectl half-closes the error stream
    await session.feed(
        kubectl.open(3, streamType="data", port="8080", requestID="0") + spdy.data(3, b"early ")
    )
    await session.feed(spdy.data(3, b"later", fin=True))  # its local side is done sending
    await session.feed(spdy.control(spdy.PING, struct.pack(">I", 9)))
    for _ in range(50):
        if kubectl.data_on(3) == b"EARLY LATER":
            break
        await asyncio.sleep(0.01)
    assert kubectl.data_on(3) == b"EARLY LATER"
    replies = [f for f in kubectl.received if isinstance(f, spdy.ControlFrame)]
    assert [f.type for f in replies] == [spdy.SYN_REPLY, spdy.SYN_REPLY, spdy.PING]
    assert [f.stream_id() for f in replies[:2]] == [1, 3]
    assert not kubectl.finished(3)  # the way back stays open after kubectl's FIN

    kubelets[8080].end()
    for _ in range(50):
        if kubectl.finished(1) and kubectl.finished(3):
            break
        await asyncio.sleep(0.01)
    assert kubectl.finished(1) and kubectl.finished(3)
    assert session.connections == 0 and kubelets[8080].closed  # nothing kept per connection
    await session.close()


@pytest.mark.parametrize(
    ("port", "message"),
    [("", "port header is required"), ("http", 'unable to parse "http" as a port')],
)
async def test_a_bad_port_is_written_to_the_error_stream(port: str, message: str) -> None:
    kubectl = Kubectl()

    async def dial(port: int) -> Any:
        raise ApiError(500, "", "never dialled")

    session = SpdyPortForward(kubectl.receive, dial)
    await session.feed(
        kubectl.open(1, streamType="error", port=port, requestID="0")
        + kubectl.open(3, streamType="data", port=port, requestID="0")
    )
    for _ in range(50):
        if kubectl.finished(3):
            break
        await asyncio.sleep(0.01)
    assert kubectl.data_on(1).decode() == message
    assert kubectl.finished(1) and kubectl.finished(3)
    await session.close()


async def test_a_stream_of_another_type_is_reset() -> None:
    kubectl = Kubectl()

    async def dial(port: int) -> Any:
        raise AssertionError("no pair, no dial")

    session = SpdyPortForward(kubectl.receive, dial)
    await session.feed(kubectl.open(1, streamType="bogus", port="8080", requestID="0"))
    assert kubectl.resets() == [(1, spdy.PROTOCOL_ERROR)]
    await session.close()


class RecordingKubelet(FakeKubelet):
    """A kubelet exec WebSocket that records what it is sent and says what it is told."""

    def __init__(self) -> None:
        self.messages = asyncio.Queue()
        self.sent: list[bytes] = []
        self.closed = False

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    def say(self, channel: int, data: bytes) -> None:
        self.messages.put_nowait(_Message(WSMsgType.BINARY, bytes((channel,)) + data))


def test_the_streams_kubectl_opens_follow_its_options() -> None:
    assert expected_streams(stdin=True, stdout=True, stderr=True, tty=False) == {
        "error", "stdin", "stdout", "stderr"
    }  # fmt: skip
    assert expected_streams(stdin=True, stdout=True, stderr=True, tty=True) == {
        "error", "stdin", "stdout", "resize"
    }  # fmt: skip


async def test_an_exec_carries_stdin_its_end_resizes_output_and_the_status() -> None:
    kubectl = Kubectl()
    kubelet = RecordingKubelet()
    expected = expected_streams(stdin=True, stdout=True, stderr=False, tty=True)
    session = SpdyRemoteCommand(kubectl.receive, kubelet, expected)  # type: ignore[arg-type]
    for stream_id, kind in ((1, "error"), (3, "stdin"), (5, "stdout"), (7, "resize")):
        await session.feed(kubectl.open(stream_id, streamType=kind))
    await session.feed(spdy.data(7, b'{"Width":80,"Height":24}\n{"Width":1'))
    await session.feed(spdy.data(7, b'00,"Height":30}\n'))
    await session.feed(spdy.data(3, b"ls\n") + spdy.data(3, b"", fin=True))
    assert kubelet.sent == [
        b'\x04{"Width":80,"Height":24}',
        b'\x04{"Width":100,"Height":30}',
        b"\x00ls\n",
        b"\xff\x00",  # v5's close of stdin
    ]
    kubelet.say(1, b"file\n")
    kubelet.say(3, b'{"metadata":{},"status":"Success"}')
    kubelet.end()
    await asyncio.wait_for(session.finished.wait(), 5)
    assert kubectl.data_on(5) == b"file\n"
    assert kubectl.data_on(1) == b'{"metadata":{},"status":"Success"}'
    assert kubectl.finished(1) and kubectl.finished(5)
    await session.close()
    assert kubelet.closed


async def test_a_stream_the_options_did_not_ask_for_is_reset() -> None:
    kubectl = Kubectl()
    expected = expected_streams(stdin=False, stdout=True, stderr=True, tty=False)
    session = SpdyRemoteCommand(kubectl.receive, RecordingKubelet(), expected)  # type: ignore[arg-type]
    await session.feed(kubectl.open(1, streamType="stdin"))
    assert kubectl.resets() == [(1, spdy.PROTOCOL_ERROR)]
    await session.close()
