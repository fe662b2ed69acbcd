"""The small process ``pynetes up``, ``init`` and ``join`` become once their node is up.

Bringing a node up takes the API client, the PKI and YAML; keeping it up only takes
waiting. So once the node is up, the command replaces itself (``exec``: same process
id, same children, same output) with this module, which holds little more than a bare
interpreter while it waits for Ctrl-C, SIGTERM or the kubelet's death, then stops the
node as the command would have: the kubelet, its pods, the node address it claimed.

    python -m pynetes.cluster.supervise --data-dir D --kubelet-pid PID [--release-node-ip IP]

Ctrl-C and SIGTERM are blocked across the ``exec`` (the signal mask survives it) and
unblocked once handled here, so a signal in between is delivered, not lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from pynetes.cluster.host import release_node_address, say, stop_pods
from pynetes.cluster.layout import ClusterLayout
from pynetes.cluster.processes import STOP_TIMEOUT, Child, log_tail

SIGNALS = {signal.SIGINT, signal.SIGTERM}


def become_supervisor(
    layout: ClusterLayout, kubelet: Child, release_node_ip: str | None
) -> NoReturn:
    """Replace this process with the supervisor of ``kubelet`` (never returns)."""
    argv = [
        sys.executable, "-m", "pynetes.cluster.supervise",
        "--data-dir", str(layout.root),
        "--kubelet-pid", str(kubelet.process.pid),
    ]  # fmt: skip
    if release_node_ip:
        argv += ["--release-node-ip", release_node_ip]
    sys.stdout.flush()
    sys.stderr.flush()
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    os.execv(sys.executable, argv)


async def supervise(layout: ClusterLayout, kubelet_pid: int, release_node_ip: str | None) -> int:
    """Until a signal (0) or the kubelet's exit (1); then stop the node."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    exited = _exit_of(kubelet_pid)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    code = 0
    if exited.done():
        log = layout.logs / "kubelet.log"
        say(f"the kubelet exited ({exited.result()}); its log, {log}:")
        say(log_tail(log))
        code = 1
    else:
        os.kill(kubelet_pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.shield(exited)
        except TimeoutError:
            os.kill(kubelet_pid, signal.SIGKILL)
            await exited
    await stop_pods(layout)
    if release_node_ip:
        await release_node_address(release_node_ip)
    say("stopped")
    return code


def _exit_of(pid: int) -> asyncio.Future[int]:
    """A future of child ``pid``'s exit status, through a pidfd (no polling)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    pidfd = os.pidfd_open(pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(pid, 0)
            future.set_result(os.waitstatus_to_exitcode(status))
            return
        future.set_result(-1)

    loop.add_reader(pidfd, reap)
    return future


def main() -> int:
    parser = argparse.ArgumentParser(prog="pynetes.cluster.supervise")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--kubelet-pid", type=int, required=True)
    parser.add_argument("--release-node-ip")
    arguments = parser.parse_args()
    layout = ClusterLayout(arguments.data_dir)
    return asyncio.run(supervise(layout, arguments.kubelet_pid, arguments.release_node_ip))


if __name__ == "__main__":
    sys.exit(main())
