"""Keeping the service range on this machine: ``ip route add local <range> dev lo``.

The route makes every address of the range local: the userspace backend
can bind any cluster IP (upstream put them on a dummy interface, which
this kernel lacks), iptables DNAT still sees the packets, and a connection
to an address no rule or listener claims is refused here instead of being
routed off the machine. It stays when the proxy stops (the range must
never leak, even with no proxy running) and is removed by ``--cleanup``.
A loopback range (127.0.0.0/8, ::1) is local already and needs nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from pynetes.proxy.nodeaddresses import Network

log = logging.getLogger(__name__)


class RouteError(RuntimeError):
    """``ip route`` failed; the message is its error output."""


def needs_route(cidr: Network) -> bool:
    """False for a range inside loopback (local without a route)."""
    loopback = ipaddress.ip_network("127.0.0.0/8" if cidr.version == 4 else "::1/128")
    return not cidr.subnet_of(loopback)  # type: ignore[arg-type]


async def has_local_route(cidr: Network) -> bool:
    out = await _ip(cidr, "show", "table", "local", "type", "local", str(cidr))
    return bool(out.strip())


async def ensure_local_route(cidr: Network) -> None:
    """Add the local route of ``cidr`` unless it is there (needs CAP_NET_ADMIN)."""
    if not needs_route(cidr) or await has_local_route(cidr):
        return
    await _ip(cidr, "add", "local", str(cidr), "dev", "lo", "table", "local")
    log.info("service range %s is local (route added on lo)", cidr)


async def remove_local_route(cidr: Network) -> bool:
    """Remove the local route of ``cidr``; False if there was none."""
    if not needs_route(cidr) or not await has_local_route(cidr):
        return False
    await _ip(cidr, "del", "local", str(cidr), "dev", "lo", "table", "local")
    log.info("service range %s: local route removed", cidr)
    return True


async def _ip(cidr: Network, *arguments: str) -> str:
    family = "-4" if cidr.version == 4 else "-6"
    process = await asyncio.create_subprocess_exec(
        "ip",
        family,
        "route",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RouteError(f"ip route {' '.join(arguments)}: {err.decode().strip()}")
    return out.decode()
