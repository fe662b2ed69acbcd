"""The small process ``pynetes up``, ``init`` and ``join`` become once their node is up.

Bringing a node up takes the API client, the PKI and YAML; keeping it up only takes
waiting. So once the node is up, the command replaces itself (``exec``: same process
id, same children, same output) with this module, which imports nothing beyond the
standard library's basics while it waits for Ctrl-C, SIGTERM or the kubelet's death
(``sigwaitinfo``: no event loop, no polling), then stops the node as the command would
have: the kubelet, its pods, the node address it claimed.

    python -m pynetes.cluster.supervise --data-dir D --kubelet-pid PID [--release-node-ip IP]

Ctrl-C, SIGTERM and SIGCHLD stay blocked across the ``exec`` (the signal mask survives
it) and are taken with ``sigwaitinfo`` here, so a signal in between is delivered, not
lost.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from pynetes.cluster.output import log_tail, say

#: Ctrl-C and SIGTERM stop the node; SIGCHLD says the kubelet died.
SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
#: How long a process may take to stop after SIGTERM before it is killed (the
#: kubelet here, any child in pynetes.cluster.processes).
STOP_TIMEOUT = 15.0


def become_supervisor(data_dir: Path, kubelet_pid: int, release_node_ip: str | None) -> NoReturn:
    """Replace this process with the supervisor of the kubelet ``kubelet_pid``."""
    argv = [
        sys.executable, "-m", "pynetes.cluster.supervise",
        "--data-dir", str(data_dir),
        "--kubelet-pid", str(kubelet_pid),
    ]  # fmt: skip
    if release_node_ip:
        argv += ["--release-node-ip", release_node_ip]
    sys.stdout.flush()
    sys.stderr.flush()
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    os.execv(sys.executable, argv)


def supervise(data_dir: Path, kubelet_pid: int, release_node_ip: str | None) -> int:
    """Until a signal (0) or the kubelet's exit (1); then stop the node."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    code = 0
    while True:
        info = signal.sigwaitinfo(SIGNALS)
        if info.si_signo != signal.SIGCHLD:
            _stop(kubelet_pid)
            break
        status = _reaped(kubelet_pid)
        if status is not None:
            log = data_dir / "logs" / "kubelet.log"
            say(f"the kubelet exited ({status}); its log, {log}:\n{log_tail(log)}")
            code = 1
            break
    _tear_down(data_dir, release_node_ip)
    say("stopped")
    return code


def _stop(kubelet_pid: int) -> None:
    """SIGTERM the kubelet, SIGKILL it if it is still there after STOP_TIMEOUT."""
    os.kill(kubelet_pid, signal.SIGTERM)
    while _reaped(kubelet_pid) is None:
        if signal.sigtimedwait({signal.SIGCHLD}, STOP_TIMEOUT) is None:
            os.kill(kubelet_pid, signal.SIGKILL)
            os.waitpid(kubelet_pid, 0)
            return


def _reaped(pid: int) -> int | None:
    """The exit code of ``pid`` if it has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    return os.waitstatus_to_exitcode(status) if done else None


def _tear_down(data_dir: Path, release_node_ip: str | None) -> None:
    """The node's pods, networks, mounts and rules, and the node address: this is the
    one moment the supervisor needs the kubelet's and kube-proxy's modules."""
    import asyncio

    from pynetes.cluster.host import release_node_address, stop_pods
    from pynetes.cluster.layout import ClusterLayout

    async def tear_down() -> None:
        await stop_pods(ClusterLayout(data_dir))
        if release_node_ip:
            await release_node_address(release_node_ip)

    asyncio.run(tear_down())


def main() -> int:
    parser = argparse.ArgumentParser(prog="pynetes.cluster.supervise")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--kubelet-pid", type=int, required=True)
    parser.add_argument("--release-node-ip")
    arguments = parser.parse_args()
    return supervise(arguments.data_dir, arguments.kubelet_pid, arguments.release_node_ip)


if __name__ == "__main__":
    sys.exit(main())
