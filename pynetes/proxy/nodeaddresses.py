"""The node's addresses that NodePorts listen on (``--nodeport-addresses``).

Upstream takes every local address inside the given CIDRs (all addresses
when none is given); pynetes defaults to ``127.0.0.1/32`` so that nothing
listens beyond loopback unless asked. Local addresses are read from the
kernel's tables (/proc): IPv4 from the local routes of single addresses,
IPv6 from the interfaces' addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT = "127.0.0.1/32"
_FIB_TRIE = Path("/proc/net/fib_trie")
_IF_INET6 = Path("/proc/net/if_inet6")


def parse_cidrs(text: str) -> list[Network]:
    """Comma-separated CIDRs (a bare address is a single-address network); ValueError if bad."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part]


def node_addresses(cidrs: Sequence[Network]) -> list[str]:
    """The machine's addresses inside ``cidrs``, sorted."""
    found = {
        ip
        for ip in (*_ipv4_addresses(), *_ipv6_addresses())
        if any(ip.version == net.version and ip in net for net in cidrs)
    }
    return [str(ip) for ip in sorted(found, key=lambda ip: (ip.version, int(ip)))]


def _ipv4_addresses() -> Iterable[ipaddress.IPv4Address]:
    """Addresses with a ``/32 host LOCAL`` entry in the FIB (interface addresses)."""
    last = None
    for line in _FIB_TRIE.read_text().splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("|--", "+--") and "/" not in words[1]:
            last = words[1]
        elif words[:1] == ["/32"] and words[-1] == "LOCAL" and last is not None:
            yield ipaddress.IPv4Address(last)


def _ipv6_addresses() -> Iterable[ipaddress.IPv6Address]:
    if not _IF_INET6.exists():
        return
    for line in _IF_INET6.read_text().splitlines():
        hexadecimal = line.split()[0]
        yield ipaddress.IPv6Address(int(hexadecimal, 16))
