"""The per-container shim: runs one container process and outlives the kubelet.

Run as ``python -I -S shim.py CONTAINER_DIR SYNC_FD`` in a session of its own (the
runtime starts it with ``start_new_session``), so a ``kill -9`` of the kubelet leaves
it and its container running. It imports only small stdlib modules (and crilog.py
by path, not the pynetes package) to keep each shim's memory small.

Contract with the runtime (files in CONTAINER_DIR):

- reads ``shim.config`` (the container's record, written by the runtime at create, in
  ``marshal`` format because importing json would slow every shim's start): ``argv``,
  ``env``, ``cwd``,
  ``log_path``, ``stdin``, ``stdin_once``, ``tty``, ``mounts``, ``cgroups`` (folders
  whose ``cgroup.procs`` the container joins before exec), ``netns`` (the path of the
  network namespace the container joins before exec; "" = the host's), ``hostname`` (with a
  netns: the name of the UTS namespace the container gets), ``socket`` (the abstract
  unix socket name it serves attach and control requests on);
- starts the container in its own process group (its own session with a TTY), writes
  ``started.json`` (``pid``, ``pid_start``, ``started_at``, ``shim_pid``, ``shim_start``;
  start times from /proc/<pid>/stat tell a reused pid apart), then ``ok`` to SYNC_FD;
  when the exec fails it writes ``exited.json`` with exit code 128 and reason
  ``StartError`` and ``err <message>`` to SYNC_FD;
- copies stdout/stderr (or the TTY) into ``log_path`` in the CRI log format, lines
  longer than MAX_LINE split into partial entries;
- when the container's main process exits, kills what is left of its process group and
  cgroup, drains the output, writes ``exited.json`` (``exit_code``: the status, or
  128+signal; ``finished_at``; ``oom_killed`` from the memory cgroup's oom_kill
  counter) and exits: the shim is alive exactly as long as the container.

Socket protocol: a client sends one mode byte, ``A`` (attach) or ``C`` (control), then
frames of ``>BI`` (kind, length) + payload. Client frames: STDIN data, CLOSE_STDIN,
RESIZE (``>HH`` width, height), REOPEN (reopen the log file; answered by an OK frame).
Attach clients receive STDOUT/STDERR frames of live output and an EXIT frame (the exit
code as text) before the shim closes them.
"""

from __future__ import annotations

import errno
import marshal
import os
import select
import signal
import socket
import struct
import sys
import time
from importlib.util import module_from_spec, spec_from_file_location

MAX_LINE = 16 * 1024
HEADER = struct.Struct(">BI")
STDIN, CLOSE_STDIN, RESIZE, REOPEN, STDOUT, STDERR, EXIT, OK = range(8)
#: An attach client further behind than this is dropped rather than stalling the container.
MAX_PENDING = 4 * 1024 * 1024
#: How long output is drained after the main process exited (grandchildren may hold pipes).
DRAIN_SECONDS = 2.0
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18


def load_crilog() -> object:
    """crilog.py loaded by path, without importing the pynetes package."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "crilog.py")
    spec = spec_from_file_location("crilog", path)
    module = module_from_spec(spec)
    sys.modules["crilog"] = module
    spec.loader.exec_module(module)
    return module


if __package__:
    from pynetes.kubelet.runtime import crilog
else:
    crilog = load_crilog()


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): tells a pid's reuse apart."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[19])


def write_json(directory: str, name: str, record: dict[str, int | bool | str]) -> None:
    """A flat record as JSON, atomically (rename) so a reader never sees half of it.

    Numbers are formatted here: only a start error's message needs the json module,
    which every shim would otherwise import."""
    if any(isinstance(value, str) for value in record.values()):
        import json

        text = json.dumps(record)
    else:
        fields = (f'"{key}": {str(value).lower()}' for key, value in record.items())
        text = "{" + ", ".join(fields) + "}"
    temporary = os.path.join(directory, f".{name}.tmp")
    with open(temporary, "w") as out:
        out.write(text)
    os.rename(temporary, os.path.join(directory, name))


class Log:
    """The CRI log file: per-stream line buffers, reopened on request."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pending = {crilog.STDOUT: b"", crilog.STDERR: b""}
        self.fd = self.open()

    def open(self) -> int:
        if self.path != os.devnull:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def reopen(self) -> None:
        os.close(self.fd)
        self.fd = self.open()

    def write(self, stream: bytes, data: bytes) -> None:
        """Full lines as F entries; a line reaching MAX_LINE bytes as P entries of that size."""
        buffered = self.pending[stream] + data
        now = time.time_ns()
        entries = []
        start = 0
        while True:
            end = buffered.find(b"\n", start, start + MAX_LINE)
            if end >= 0:
                entries.append(crilog.encode(now, stream, buffered[start : end + 1]))
                start = end + 1
            elif len(buffered) - start >= MAX_LINE:
                entries.append(crilog.encode(now, stream, buffered[start : start + MAX_LINE]))
                start += MAX_LINE
            else:
                break
        self.pending[stream] = buffered[start:]
        if entries:
            self.append(b"".join(entries))

    def append(self, data: bytes) -> None:
        """Writes to the log; a failure (disk full) loses the output, not the container."""
        try:
            os.write(self.fd, data)
        except OSError as error:
            print(f"writing {self.path}: {error}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        """The unterminated rest of each stream, as partial entries (at exit)."""
        for stream, rest in self.pending.items():
            if rest:
                self.append(crilog.encode(time.time_ns(), stream, rest))
        self.pending = dict.fromkeys(self.pending, b"")


def setup_mounts(mounts: list[dict]) -> None:
    """A private mount namespace with each volume bound at its container path.

    As root: unshare(CLONE_NEWNS). Otherwise an unprivileged user namespace mapping
    the caller's uid/gid to itself. Raises OSError when neither is allowed; the
    runtime then records a StartError.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{what}: {os.strerror(error)}")

    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
        for name, text in maps:
            with open(f"/proc/self/{name}", "w") as out:
                out.write(text)
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    for mount in mounts:
        source, target = mount["host_path"], mount["container_path"]
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        elif not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        bound = libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None)
        check(bound, f"bind {source} at {target}")
        if mount.get("read_only"):
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC
            check(libc.mount(None, target.encode(), None, flags, None), f"read-only {target}")


def join_netns(path: str) -> None:
    """setns(2) into the network namespace bound at ``path`` (os.setns is 3.12+)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"joining the network namespace {path}: {os.strerror(error)}")
    finally:
        os.close(fd)


def take_hostname(name: str) -> None:
    """A UTS namespace of the container's own, named ``name``: a pod with a network of
    its own has its own host name, as upstream's sandboxes do (hostNetwork pods keep
    the node's). Each container has its namespace, all named alike."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUTS) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(CLONE_NEWUTS): {os.strerror(error)}")
    socket.sethostname(name)


def exec_container(config: dict, stdio: tuple[int, int, int], error_fd: int) -> None:
    """In the forked child: join cgroups and namespaces, then exec. Never returns."""
    try:
        if config["tty"]:
            os.setsid()
            import fcntl
            import termios

            fcntl.ioctl(stdio[0], termios.TIOCSCTTY, 0)
        else:
            os.setpgid(0, 0)
        for folder in config["cgroups"]:
            with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        if config.get("netns"):
            join_netns(config["netns"])
            if config.get("hostname"):
                take_hostname(config["hostname"])
        if config["mounts"]:
            setup_mounts(config["mounts"])
        for target, source in enumerate(stdio):
            os.dup2(source, target)
        os.makedirs(config["cwd"], exist_ok=True)
        os.chdir(config["cwd"])
        for number in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGUSR1):
            signal.signal(number, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        os.execvpe(config["argv"][0], config["argv"], dict(config["env"]))
    except BaseException as error:
        message = (
            str(error)
            if not isinstance(error, FileNotFoundError)
            else (f'exec: "{config["argv"][0]}": executable file not found in $PATH')
        )
        os.write(error_fd, message.encode()[:4000])
    os._exit(127)


class Client:
    """One socket connection; output to it is buffered so a slow reader never blocks."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.mode = b""
        self.inbox = b""
        self.outbox = b""

    def send(self, kind: int, payload: bytes) -> bool:
        """Queue a frame; False when this client is too far behind (to be dropped)."""
        self.outbox += HEADER.pack(kind, len(payload)) + payload
        return self.flush() and len(self.outbox) <= MAX_PENDING

    def flush(self) -> bool:
        try:
            while self.outbox:
                sent = self.sock.send(self.outbox)
                self.outbox = self.outbox[sent:]
        except BlockingIOError:
            return True
        except OSError:
            return False
        return True

    def frames(self) -> list[tuple[int, bytes]]:
        found = []
        while len(self.inbox) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.inbox)
            if len(self.inbox) < HEADER.size + length:
                break
            found.append((kind, self.inbox[HEADER.size : HEADER.size + length]))
            self.inbox = self.inbox[HEADER.size + length :]
        return found


class Shim:
    """The poll loop: container output to the log and attach clients, requests, exit."""

    def __init__(self, directory: str, config: dict) -> None:
        self.directory = directory
        self.config = config
        self.log = Log(config["log_path"])
        self.poll = select.poll()
        self.handlers: dict[int, object] = {}
        self.clients: dict[int, Client] = {}
        self.outputs: dict[int, bytes] = {}
        self.stdin_fd = -1
        self.pid = 0
        self.status: int | None = None
        self.signals_r, signals_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(signals_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind("\0" + config["socket"])
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.watch(self.signals_r, self.on_signal)
        self.watch(self.listener.fileno(), self.on_accept)

    def watch(self, fd: int, handler: object, events: int = select.POLLIN) -> None:
        self.handlers[fd] = handler
        self.poll.register(fd, events)

    def unwatch(self, fd: int) -> None:
        self.handlers.pop(fd, None)
        self.poll.unregister(fd)

    def start(self) -> str:
        """Fork and exec the container; "" on success, else why the exec failed."""
        config = self.config
        if config["tty"]:
            import pty

            master, slave = pty.openpty()
            os.set_inheritable(slave, False)
            stdio = (slave, slave, slave)
            ends = [slave]
            self.outputs[master] = crilog.STDOUT
            self.stdin_fd = master if config["stdin"] else -1
        else:
            stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            if config["stdin"]:
                stdin_r, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
                os.close(stdin)
                stdin = stdin_r
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            stdio = (stdin, out_w, err_w)
            ends = list(stdio)
            self.outputs[out_r] = crilog.STDOUT
            self.outputs[err_r] = crilog.STDERR
        error_r, error_w = os.pipe2(os.O_CLOEXEC)
        started_at = time.time_ns()
        self.pid = os.fork()
        if self.pid == 0:
            exec_container(config, stdio, error_w)
        os.close(error_w)
        for fd in ends:
            os.close(fd)
        failure = b""
        while chunk := os.read(error_r, 4096):
            failure += chunk
        os.close(error_r)
        if failure:
            return failure.decode(errors="replace")
        pid_start = process_start_time(self.pid)
        record = {
            "pid": self.pid,
            "pid_start": pid_start,
            "started_at": started_at,
            "shim_pid": os.getpid(),
            "shim_start": process_start_time(os.getpid()),
        }
        write_json(self.directory, "started.json", record)
        for fd in self.outputs:
            os.set_blocking(fd, False)
            self.watch(fd, self.on_output)
        return ""

    def on_signal(self, fd: int, _events: int) -> None:
        os.read(fd, 512)  # readable: poll said so, and only this loop reads it
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status

    def on_output(self, fd: int, events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self.unwatch(fd)
            os.close(fd)
            del self.outputs[fd]
            return
        stream = self.outputs[fd]
        self.log.write(stream, data)
        self.broadcast(STDOUT if stream == crilog.STDOUT else STDERR, data)

    def broadcast(self, kind: int, payload: bytes) -> None:
        for client in [c for c in self.clients.values() if c.mode == b"A"]:
            if not client.send(kind, payload):
                self.drop(client)
            elif client.outbox:
                self.poll.modify(client.sock.fileno(), select.POLLIN | select.POLLOUT)

    def on_accept(self, _fd: int, _events: int) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        _pid, peer_uid, _gid = struct.unpack("3i", credentials)
        if peer_uid not in (0, os.getuid()):
            sock.close()  # abstract sockets are reachable by every user: only ours may attach
            return
        sock.setblocking(False)
        client = Client(sock)
        self.clients[sock.fileno()] = client
        self.watch(sock.fileno(), self.on_client)

    def on_client(self, fd: int, events: int) -> None:
        client = self.clients[fd]
        if events & select.POLLOUT:
            if not client.flush():
                self.drop(client)
                return
            if not client.outbox:
                self.poll.modify(fd, select.POLLIN)
        if not events & (select.POLLIN | select.POLLHUP | select.POLLERR):
            return
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(client)
            return
        if not client.mode:
            client.mode, data = data[:1], data[1:]
        client.inbox += data
        for kind, payload in client.frames():
            self.on_frame(client, kind, payload)

    def on_frame(self, client: Client, kind: int, payload: bytes) -> None:
        if kind == STDIN and self.stdin_fd >= 0:
            self.write_stdin(payload)
        elif kind == CLOSE_STDIN:
            self.close_stdin()
        elif kind == RESIZE and self.config["tty"]:
            import fcntl
            import termios

            width, height = struct.unpack(">HH", payload)
            master = next(iter(self.outputs), -1)
            if master >= 0:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        elif kind == REOPEN:
            self.log.reopen()
            client.send(OK, b"")

    def write_stdin(self, data: bytes) -> None:
        try:
            while data:
                data = data[os.write(self.stdin_fd, data) :]
        except OSError:
            self.close_stdin()

    def close_stdin(self) -> None:
        """Ends the container's stdin (EOF; with a TTY, the EOF character)."""
        if self.stdin_fd < 0:
            return
        if self.config["tty"]:
            os.write(self.stdin_fd, b"\x04")
        else:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def drop(self, client: Client) -> None:
        fd = client.sock.fileno()
        self.unwatch(fd)
        del self.clients[fd]
        client.sock.close()
        if client.mode == b"A" and self.config["stdin_once"]:
            self.close_stdin()

    def run(self) -> None:
        while self.status is None:
            self.dispatch(None)
        self.kill_leftovers()
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.outputs and (left := deadline - time.monotonic()) > 0:
            self.dispatch(left * 1000)
        self.log.flush()
        self.finish()

    def dispatch(self, timeout_ms: float | None) -> None:
        for fd, events in self.poll.poll(timeout_ms):
            handler = self.handlers.get(fd)
            if handler is not None:
                handler(fd, events)

    def kill_leftovers(self) -> None:
        """What the main process left behind dies with it, as in a pid namespace."""
        try:  # noqa: SIM105 - contextlib would cost every shim's startup
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        for folder in self.config["cgroups"]:
            try:
                with open(os.path.join(folder, "cgroup.procs")) as procs:
                    for line in procs:
                        os.kill(int(line), signal.SIGKILL)
            except OSError:
                pass

    def oom_killed(self) -> bool:
        for folder in self.config["cgroups"]:
            try:
                with open(os.path.join(folder, "memory.oom_control")) as control:
                    for line in control:
                        name, _, value = line.partition(" ")
                        if name == "oom_kill":
                            return int(value) > 0
            except OSError:
                continue
        return False

    def finish(self) -> None:
        status = self.status
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code < 0:
            exit_code = 128 - exit_code
        record = {
            "exit_code": exit_code,
            "finished_at": time.time_ns(),
            "oom_killed": self.oom_killed(),
        }
        write_json(self.directory, "exited.json", record)
        for client in list(self.clients.values()):
            if client.mode == b"A":
                client.sock.setblocking(True)
                client.sock.settimeout(1.0)
                try:
                    client.send(EXIT, str(exit_code).encode())
                    client.sock.sendall(client.outbox)
                except OSError:
                    pass
            client.sock.close()


def main() -> None:
    directory, sync_fd = sys.argv[1], int(sys.argv[2])
    os.set_inheritable(sync_fd, False)
    with open(os.path.join(directory, "shim.config"), "rb") as source:
        config = marshal.load(source)
    shim = Shim(directory, config)
    failure = shim.start()
    if failure:
        record = {
            "exit_code": 128,
            "finished_at": time.time_ns(),
            "reason": "StartError",
            "message": failure,
        }
        write_json(directory, "exited.json", record)
        os.write(sync_fd, b"err " + failure.encode())
        return
    os.write(sync_fd, b"ok")
    os.close(sync_fd)
    shim.run()


if __name__ == "__main__":
    main()
