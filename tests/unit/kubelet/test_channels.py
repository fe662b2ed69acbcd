"""The channel framing of exec, attach and port-forward, as kubectl and Python clients read it."""

from __future__ import annotations

import json

import pytest

from pynetes.kubelet.server import channels


def test_a_frame_is_the_channel_byte_then_the_data() -> None:
    assert channels.frame(channels.STDERR, b"oops") == b"\x02oops"
    assert channels.split(b"\x00input") == (channels.STDIN, b"input")
    assert channels.split(b"\xff\x00") == (channels.CLOSE, b"\x00")
    with pytest.raises(ValueError):
        channels.split(b"")


def test_exit_status_is_what_kubectl_turns_into_its_exit_code() -> None:
    assert json.loads(channels.success_status()) == {"metadata": {}, "status": "Success"}
    status = json.loads(channels.exit_code_status(3))
    assert status["status"] == "Failure"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


def test_port_forward_channels_open_with_the_port_little_endian() -> None:
    assert channels.port_header(8080) == bytes((0x90, 0x1F))
    assert channels.port_header(80) == b"P\x00"


def test_resize_frames_carry_width_and_height() -> None:
    assert channels.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    assert channels.parse_resize(b"not json") is None
    assert channels.parse_resize(b'{"Width":1}') is None
