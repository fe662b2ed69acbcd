"""The channel WebSocket protocols of exec, attach and port-forward (``*.channel.k8s.io``).

Every WebSocket message is one frame: a channel byte, then data. For exec
and attach (upstream's remotecommand over WebSocket):

- 0 stdin (client -> server), 1 stdout, 2 stderr, 3 error: the final status
  JSON, 4 resize: ``{"Width": W, "Height": H}`` (client -> server);
- ``v5.channel.k8s.io`` adds channel 255: ``[255, n]`` from the client
  closes channel ``n`` (kubectl sends ``[255, 0]`` at the end of its stdin);
  ``v4.channel.k8s.io`` has no way to close stdin but closing the connection.

For port-forward (``v4.channel.k8s.io``), port ``i`` of the request's
``ports`` uses channel ``2i`` for data and ``2i+1`` for errors; the server
opens each channel with a frame holding the port as two little-endian bytes.
"""

from __future__ import annotations

import json
from typing import Any

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
#: What exec and attach speak, newest first (the server picks in the client's order).
STREAM_PROTOCOLS = (V5, V4)
#: Port-forward over WebSocket: upstream serves v4 framing only (the Python client's).
PORT_FORWARD_PROTOCOLS = (V4,)


def frame(channel: int, data: bytes = b"") -> bytes:
    return bytes((channel,)) + data


def split(message: bytes) -> tuple[int, bytes]:
    """(channel, data) of a frame; ``ValueError`` for an empty message."""
    if not message:
        raise ValueError("empty frame")
    return message[0], message[1:]


def port_header(port: int) -> bytes:
    """The first data of each port-forward channel: the port, little-endian."""
    return port.to_bytes(2, "little")


def success_status() -> bytes:
    return _json({"metadata": {}, "status": "Success"})


def exit_code_status(exit_code: int) -> bytes:
    """The status kubectl turns into its own exit code (upstream's NonZeroExitCode)."""
    return _json(
        {
            "metadata": {},
            "status": "Failure",
            "message": (
                "command terminated with non-zero exit code: command terminated"
                f" with exit code {exit_code}"
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
        }
    )


def failure_status(message: str, *, code: int = 500, reason: str = "InternalError") -> bytes:
    """A status for a session that failed before or without an exit code."""
    return _json(
        {
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": {"causes": [{"message": message}]},
            "code": code,
        }
    )


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a resize frame, or None when it is not one."""
    try:
        size = json.loads(data)
        return int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return None


def _json(status: dict[str, Any]) -> bytes:
    return json.dumps(status, separators=(",", ":")).encode()
