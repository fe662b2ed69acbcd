"""Watch streams: lines however chunks cut them, events and ERROR events decoded."""

from __future__ import annotations

import orjson
import pytest

from pynetes.client import errors
from pynetes.client.watch import WatchEvent, decode_event, lines


async def chunks_of(*chunks: bytes):
    for chunk in chunks:
        yield chunk


async def collect(*chunks: bytes) -> list[bytes]:
    return [line async for line in lines(chunks_of(*chunks))]


async def test_lines_split_across_chunks_are_joined() -> None:
    assert await collect(b'{"a":', b"1}\n{", b'"b":2}\n') == [b'{"a":1}', b'{"b":2}']


async def test_many_lines_in_one_chunk_and_blank_lines_skipped() -> None:
    assert await collect(b"one\n\ntwo\nthree\n", b"\n") == [b"one", b"two", b"three"]


async def test_a_last_line_without_newline_still_counts() -> None:
    assert await collect(b"one\ntw", b"o") == [b"one", b"two"]


async def test_a_big_line_in_many_small_chunks() -> None:
    line = orjson.dumps({"type": "ADDED", "object": {"data": {"k": "v" * 3_000_000}}})
    pieces = [line[i : i + 16384] for i in range(0, len(line), 16384)]
    assert await collect(*pieces, b"\n") == [line]


def test_events_are_decoded_with_their_resource_version() -> None:
    event = decode_event(
        b'{"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"42"}}}'
    )
    assert event == WatchEvent(
        "MODIFIED", {"kind": "ConfigMap", "metadata": {"resourceVersion": "42"}}
    )
    assert event.resource_version == "42"


def test_an_expired_error_event_raises_gone() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
    with pytest.raises(errors.Gone, match="too old"):
        decode_event(orjson.dumps({"type": "ERROR", "object": status}))


@pytest.mark.parametrize("line", [b"{not json", b'{"type":"ADDED"}', b"[1]"])
def test_an_undecodable_line_is_a_broken_stream(line) -> None:
    with pytest.raises(errors.TransportError):
        decode_event(line)
