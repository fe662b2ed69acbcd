"""The userspace proxy's data path: one thread moving bytes between joined sockets.

Accepting a connection and dialling an endpoint stay in asyncio (timeouts,
retries, the balancer); once both ends are connected they are handed to a
:class:`Relay`, whose thread waits on an epoll set and, for each socket
that is readable, reads once into its buffer and writes what it read to the
socket's peer. Why not asyncio's transports: per forwarded read they run
some thirty Python calls (a selector key, a handle, the protocol's
callbacks, the transport's write path); this loop runs a handful, and a
proxied request is two forwarded reads. With the event loop out of the
path, the asyncio thread is idle while connections carry traffic.

Contract, per pair (as upstream's userspace proxier copies in both
directions): bytes are forwarded in order; what a peer cannot take at once
is kept, and the side that sent it is not read again until it is written
(back-pressure, so memory per pair is bounded by one read); an end that
reads EOF passes it on as a half-close (``shutdown(SHUT_WR)``) once what it
sent is written, and the pair is closed when both directions have ended;
an error on either socket closes both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
from collections import deque

log = logging.getLogger(__name__)

#: Bytes read from a socket at a time.
READ_BUFFER_BYTES = 32 * 1024
_READ = select.EPOLLIN
_WRITE = select.EPOLLOUT


class _End:
    """One socket of a pair and what is waiting to be written to it."""

    __slots__ = ("closed", "fd", "mask", "peer", "pending", "read_eof", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer: _End = self
        #: Bytes read from the peer that this socket has not taken yet.
        self.pending = b""
        #: This socket has sent EOF (nothing more will be read from it).
        self.read_eof = False
        #: The events this end is registered for (0: not registered).
        self.mask = 0
        self.closed = False

    def wanted(self) -> int:
        """Read while the peer can take more; write while something is pending."""
        mask = _WRITE if self.pending else 0
        if not self.read_eof and not self.peer.pending:
            mask |= _READ
        return mask


class Relay:
    """Joined socket pairs and the thread that forwards between them.

    :meth:`join` and :meth:`stop` may be called from any thread; everything
    else (the epoll set, the pairs) is the relay thread's alone, so it needs
    no lock: a join is queued and the thread woken to take it.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._ends: dict[int, _End] = {}
        self._joining: deque[tuple[socket.socket, socket.socket]] = deque()
        self._stopping = False
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        self._epoll.register(self._wakeup_read, _READ)
        self._buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self._thread = threading.Thread(target=self._run, name="proxy relay", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        """How many pairs are open."""
        return len(self._ends) // 2

    def join(self, first: socket.socket, second: socket.socket) -> None:
        """Forward between two connected sockets until both directions end.

        The relay owns the sockets from here on: it makes them non-blocking,
        and closes them (at once if it has been stopped).
        """
        if self._stopping:
            first.close()
            second.close()
            return
        self._joining.append((first, second))
        self._wake()

    def stop(self) -> None:
        """Close every pair and end the thread."""
        if self._thread.is_alive():
            self._stopping = True
            self._wake()
            self._thread.join()

    def _wake(self) -> None:
        """Make the thread's wait return; a full pipe already holds a wake-up."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._wakeup_write, b"w")

    def _run(self) -> None:
        ends, buffer, poll = self._ends, self._buffer, self._epoll.poll
        try:
            while not self._stopping:
                for fd, events in poll():
                    end = ends.get(fd)
                    if end is None:
                        if fd == self._wakeup_read:
                            self._woken()
                        continue
                    try:
                        self._serve(end, events, buffer)
                    except OSError as error:
                        log.warning("proxy relay: closing a connection: %s", error)
                        self._close(end)
                    except Exception:  # the thread serves every pair: it outlives any one
                        log.exception("proxy relay: closing a connection")
                        self._close(end)
        finally:
            for end in list(ends.values()):
                self._close(end)
            for pair in self._joining:
                for sock in pair:
                    sock.close()
            self._epoll.close()
            os.close(self._wakeup_read)
            os.close(self._wakeup_write)

    def _serve(self, end: _End, events: int, buffer: memoryview) -> None:
        """What epoll reported for ``end``: room to write, bytes or an end to read."""
        if events & _WRITE or end.mask == _WRITE:
            self._flush(end)
        if not end.closed and end.mask & _READ:
            self._forward(end, buffer)

    def _woken(self) -> None:
        """Take the pairs joined since the last wake-up."""
        with contextlib.suppress(BlockingIOError):
            os.read(self._wakeup_read, 4096)
        while self._joining:
            a, b = (_End(sock) for sock in self._joining.popleft())
            a.peer, b.peer = b, a
            for end in (a, b):
                end.sock.setblocking(False)
                self._ends[end.fd] = end
                self._update(end)

    def _forward(self, end: _End, buffer: memoryview) -> None:
        """Read once from ``end`` and write it to its peer; keep what the peer did not take."""
        try:
            count = end.sock.recv_into(buffer)
        except BlockingIOError:
            return
        except OSError:
            self._close(end)
            return
        peer = end.peer
        if not count:
            end.read_eof = True
            self._update(end)
            self._pass_eof(peer)
            return
        try:
            sent = peer.sock.send(buffer[:count])
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close(end)
            return
        if sent < count:
            peer.pending = bytes(buffer[sent:count])
            self._update(peer)
            self._update(end)

    def _flush(self, end: _End) -> None:
        """Write what is pending for ``end``; when done, read its peer again."""
        try:
            sent = end.sock.send(end.pending)
        except BlockingIOError:
            return
        except OSError:
            self._close(end)
            return
        end.pending = end.pending[sent:]
        if end.pending:
            return
        self._update(end)
        self._update(end.peer)
        if end.peer.read_eof:
            self._pass_eof(end)

    def _pass_eof(self, end: _End) -> None:
        """The peer of ``end`` has ended: half-close ``end`` once it has taken
        everything; close the pair once both directions have ended."""
        if end.pending:
            return
        with contextlib.suppress(OSError):
            end.sock.shutdown(socket.SHUT_WR)
        if end.read_eof and not end.peer.pending:
            self._close(end)

    def _update(self, end: _End) -> None:
        """Register ``end`` for what it wants; an end that wants nothing is left out
        of the set, or epoll would report its hang-up on every wait."""
        mask, registered = end.wanted(), end.mask
        if mask == registered or end.closed:
            return
        end.mask = mask
        if not mask:
            self._epoll.unregister(end.fd)
        elif not registered:
            self._epoll.register(end.fd, mask)
        else:
            self._epoll.modify(end.fd, mask)

    def _close(self, end: _End) -> None:
        """Close both sockets of ``end``'s pair."""
        for each in (end, end.peer):
            if each.closed:
                continue
            each.closed = True
            if each.mask:
                with contextlib.suppress(OSError):
                    self._epoll.unregister(each.fd)
            self._ends.pop(each.fd, None)
            each.sock.close()
