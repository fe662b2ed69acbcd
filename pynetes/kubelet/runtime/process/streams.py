"""Exec and attach sessions of the process runtime (the ``StreamSession`` protocol).

- ``PipeSession``: an exec'd process with pipes.
- ``TtySession``: an exec'd process on a pseudo-terminal (stdout carries both streams).
- ``AttachSession``: the live output and stdin of a running container, through its
  shim's socket (the frame protocol documented in shim.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import struct
import termios

from pynetes.kubelet.runtime.process import shim

WINSIZE = struct.Struct("HHHH")


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, WINSIZE.pack(height, width, 0, 0))


def kill_group(pid: int) -> None:
    """SIGKILL an exec'd process's group (it leads one: a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def exit_code(returncode: int | None) -> int:
    """asyncio's returncode (-N for signal N) as a shell reports it (128+N)."""
    assert returncode is not None
    return 128 - returncode if returncode < 0 else returncode


class PipeSession:
    """An exec'd process whose streams are pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = process.stdout
        self.stderr = process.stderr

    async def write_stdin(self, data: bytes) -> None:
        if self.process.stdin is None:
            return
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def close_stdin(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()

    def resize(self, width: int, height: int) -> None:
        """Pipes have no window."""

    async def wait(self) -> int:
        return exit_code(await self.process.wait())

    async def close(self) -> None:
        if self.process.returncode is None:
            kill_group(self.process.pid)
        await self.process.wait()


class TtySession:
    """An exec'd process on a pseudo-terminal whose master end this session holds."""

    def __init__(self, process: asyncio.subprocess.Process, master: int, stdin: bool) -> None:
        self.process = process
        self.master = master
        self.stdin_open = stdin
        self.stdout: asyncio.StreamReader | None = asyncio.StreamReader()
        self.stderr: asyncio.StreamReader | None = None
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._on_output)

    def _on_output(self) -> None:
        assert self.stdout is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.stdout.feed_data(data)
            return
        asyncio.get_running_loop().remove_reader(self.master)
        self.stdout.feed_eof()

    async def write_stdin(self, data: bytes) -> None:
        if not self.stdin_open:
            return
        while data:
            try:
                data = data[os.write(self.master, data) :]
            except BlockingIOError:
                await asyncio.sleep(0.01)

    async def close_stdin(self) -> None:
        """The terminal's end-of-file character, as a user typing Ctrl-D."""
        if self.stdin_open:
            await self.write_stdin(b"\x04")
            self.stdin_open = False

    def resize(self, width: int, height: int) -> None:
        set_window_size(self.master, width, height)

    async def wait(self) -> int:
        return exit_code(await self.process.wait())

    async def close(self) -> None:
        if self.process.returncode is None:
            kill_group(self.process.pid)
        await self.process.wait()
        asyncio.get_running_loop().remove_reader(self.master)
        with contextlib.suppress(OSError):
            os.close(self.master)


class AttachSession:
    """A connection to a container's shim: its output from now on, and its stdin."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        requests: socket.socket,
        *,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._requests = requests
        self._sending = asyncio.Lock()
        self._resizes: set[asyncio.Task[None]] = set()
        self._stdin = stdin
        self.stdout = asyncio.StreamReader() if stdout else None
        self.stderr = asyncio.StreamReader() if stderr and not tty else None
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pump = asyncio.create_task(self._read_frames())

    @classmethod
    async def connect(
        cls, socket_name: str, *, stdin: bool, stdout: bool, stderr: bool, tty: bool
    ) -> AttachSession:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, "\0" + socket_name)
        await asyncio.get_running_loop().sock_sendall(sock, b"A")
        # Frames to the shim go through a duplicate of the socket: writing to a shim
        # that has exited fails, and that failure must not cut the reading side short
        # (asyncio drops a transport's unread output on any write error).
        requests = sock.dup()
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer, requests, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)

    async def _read_frames(self) -> None:
        targets = {shim.STDOUT: self.stdout, shim.STDERR: self.stderr}
        try:
            while True:
                kind, length = shim.HEADER.unpack(await self._reader.readexactly(shim.HEADER.size))
                payload = await self._reader.readexactly(length)
                if kind == shim.EXIT:
                    self._exit.set_result(int(payload))
                    break
                target = targets.get(kind)
                if target is not None:
                    target.feed_data(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for target in (self.stdout, self.stderr):
                if target is not None:
                    target.feed_eof()
            if not self._exit.done():
                self._exit.set_exception(ConnectionError("the container's shim went away"))

    async def _send(self, kind: int, payload: bytes = b"") -> None:
        """One frame to the shim; dropped once the shim is gone (the container exited:
        stdin to it goes nowhere, as with upstream's runtimes)."""
        async with self._sending:  # frames must not interleave
            with contextlib.suppress(OSError):
                frame = shim.HEADER.pack(kind, len(payload)) + payload
                await asyncio.get_running_loop().sock_sendall(self._requests, frame)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin:
            await self._resized()
            await self._send(shim.STDIN, data)

    async def close_stdin(self) -> None:
        if self._stdin:
            await self._resized()
            await self._send(shim.CLOSE_STDIN)
            self._stdin = False

    async def _resized(self) -> None:
        """Frames go in call order: a resize asked for before this input is sent first
        (a command typed after a resize sees the new size)."""
        if self._resizes:
            await asyncio.gather(*self._resizes, return_exceptions=True)

    def resize(self, width: int, height: int) -> None:
        task = asyncio.create_task(self._send(shim.RESIZE, struct.pack(">HH", width, height)))
        self._resizes.add(task)
        task.add_done_callback(self._resizes.discard)

    async def wait(self) -> int:
        """The container's exit code, once it exits."""
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        """Detaches; the container keeps running."""
        for task in self._resizes:
            task.cancel()
        self._requests.close()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        if not self._exit.done():
            self._exit.cancel()


async def shim_request(socket_name: str, kind: int) -> None:
    """One control request to a shim (e.g. REOPEN), returning once it is answered."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, "\0" + socket_name)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        writer.write(b"C" + shim.HEADER.pack(kind, 0))
        kind_back, length = shim.HEADER.unpack(await reader.readexactly(shim.HEADER.size))
        await reader.readexactly(length)
        if kind_back != shim.OK:
            raise ConnectionError(f"unexpected answer {kind_back} from the shim")
    finally:
        writer.close()
