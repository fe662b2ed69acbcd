"""What ``pynetes up``, ``init`` and ``join`` do on the machine they run on.

They check the tools and the ports their processes need before starting anything,
make the node's address local when it is not (a route on ``lo``), and on the way out
(from the supervisor, :mod:`pynetes.cluster.supervise`, or after a failed start) stop
every pod the kubelet ran, with their networks, mounts and kube-proxy's rules, so that
a stopped node leaves nothing behind but its data folder.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import shutil
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

from pynetes.cluster.layout import ClusterLayout


class StartError(Exception):
    """The node cannot start; the message says why and what to do."""


def stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def check_ports_free(ports: Mapping[str, tuple[str, int]]) -> None:
    """Each ``flag: (host, port)`` must be free to bind, or StartError names it."""
    for flag, (host, port) in ports.items():
        if _in_use(host, port):
            raise StartError(
                f"port {port} ({flag}) is in use on {host}: stop what listens there "
                f"(a cluster already running?) or give another {flag}"
            )


def _in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails as taken (a bind sends nothing anywhere)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def check_node_tools(cni_bin_dir: Path) -> None:
    """As root, pods get network namespaces through the CNI plugins and kube-proxy
    writes iptables rules: both must be on the machine, or StartError says what to
    install (without root neither is used)."""
    if os.geteuid() != 0:
        return
    from pynetes.kubelet.runtime.process.cni import REQUIRED_PLUGINS

    missing = [name for name in REQUIRED_PLUGINS if not (cni_bin_dir / name).exists()]
    if missing:
        raise StartError(
            f"the CNI plugins {', '.join(missing)} are not in {cni_bin_dir}: install them "
            "(Debian: apt-get install containernetworking-plugins) or give --cni-bin-dir"
        )
    for tool, package in (("ip", "iproute2"), ("iptables-restore", "iptables")):
        if shutil.which(tool) is None:
            raise StartError(
                f"{tool} is not on PATH: install it (Debian: apt-get install {package})"
            )


async def claim_node_address(node_ip: str) -> bool:
    """Make ``node_ip`` local (a route on lo) when no interface has it; True if we did,
    so that :func:`release_node_address` undoes it."""
    if is_local(node_ip):
        return False
    if os.geteuid() != 0:
        raise StartError(f"--node-ip {node_ip} is not an address of this machine")
    from pynetes.proxy.localroute import ensure_local_route

    await ensure_local_route(ipaddress.ip_network(node_ip))
    return True


async def release_node_address(node_ip: str) -> None:
    from pynetes.proxy.localroute import remove_local_route

    await remove_local_route(ipaddress.ip_network(node_ip))


def is_local(address: str) -> bool:
    """Whether ``address`` is one of this machine's (binding it works)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


async def stop_pods(layout: ClusterLayout) -> None:
    """Stop the pods the kubelet left running (their processes outlive it, as upstream's
    containers do), tear down their networks and mounts, remove the pods' bridge and
    kube-proxy's rules. The service range's local route stays, on purpose: addresses of
    the range must never be routed off the machine, even with no cluster running.

    Imported here, not at the top: the command that stays up for hours should not
    hold the kubelet's and kube-proxy's modules in its memory to use them once.
    """
    from pynetes.kubelet.agent import tear_down_pods
    from pynetes.kubelet.runtime.process.cni import CniOptions, remove_idle_bridge

    kubelet_dir = layout.kubelet_dir
    cni_options = CniOptions(conf_dir=kubelet_dir / "cni" / "net.d")
    await tear_down_pods(kubelet_dir, cni_options)
    if os.geteuid() == 0:
        from pynetes.proxy.iptables import IptablesProxier

        await remove_idle_bridge(cni_options.bridge)
        await IptablesProxier().cleanup()
