"""The ranges Services take addresses from: ``--service-cluster-ip-range`` and
``--service-node-port-range``.

A range numbers its usable values from offset 0. An IPv4 range skips its
network and broadcast addresses (10.96.0.0/12: offset 0 is 10.96.0.1). As
upstream since the static-subrange KEPs (3070, 3668), the lowest offsets
(the "static band") are left to explicit requests where possible: a dynamic
allocation starts at a random offset above the band and takes the band only
when the rest is full.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol, TypeVar

V = TypeVar("V")

#: upstream's messages, shown to clients in 422 causes and 500 errors.
FULL = "range is full"


class RangeError(Exception):
    """A value that cannot be allocated; ``str()`` is upstream's message."""


class Range(Protocol[V]):
    """Values numbered 0..size-1, and the messages for refusing one."""

    @property
    def size(self) -> int: ...

    @property
    def static_band(self) -> int: ...

    def offset(self, value: V) -> int | None:
        """The value's offset, None when it is outside the range."""

    def value(self, offset: int) -> V: ...

    def not_in_range(self, value: V) -> RangeError: ...

    def already_allocated(self) -> RangeError: ...


def _static_band(size: int, minimum: int, maximum: int, step: int) -> int:
    """upstream calculateRangeOffset: ``min(max(minimum, size / step), maximum)``, 0 if tiny."""
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


@dataclass(frozen=True)
class IPRange:
    """A service CIDR: ``10.96.0.0/12``. IPv6 ranges are capped at 65536 values, as upstream."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    @classmethod
    def parse(cls, cidr: str) -> IPRange:
        """Raises ValueError for what is not a CIDR, or one too small to hold an address."""
        network = ipaddress.ip_network(cidr.strip(), strict=False)
        found = cls(network)
        if found.size < 1:
            raise ValueError(f"the service cluster IP range {cidr} holds no usable address")
        return found

    @property
    def family(self) -> str:
        return "IPv4" if self.network.version == 4 else "IPv6"

    @property
    def size(self) -> int:
        if self.network.version == 6:
            return min(self.network.num_addresses - 1, 65536)
        return max(self.network.num_addresses - 2, 0)

    @property
    def static_band(self) -> int:
        return _static_band(self.network.num_addresses, 16, 256, 16)

    def offset(self, value: str) -> int | None:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
        if address.version != self.network.version or address not in self.network:
            return None
        offset = int(address) - int(self.network.network_address) - 1
        return offset if 0 <= offset < self.size else None

    def value(self, offset: int) -> str:
        return str(self.network.network_address + offset + 1)

    def not_in_range(self, value: str) -> RangeError:
        return RangeError(
            f"the provided IP ({value}) is not in the valid range. The range of valid IPs is"
            f" {self.network}"
        )

    def already_allocated(self) -> RangeError:
        return RangeError("provided IP is already allocated")

    def __str__(self) -> str:
        return str(self.network)


@dataclass(frozen=True)
class PortRange:
    """A node port range, both ends included: ``30000-32767``."""

    base: int
    last: int

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """``30000-32767``, ``30000+2767`` (base and size - 1, as upstream), or one port."""
        text = text.strip()
        try:
            if "+" in text:
                base, extra = (int(part) for part in text.split("+", 1))
                found = cls(base, base + extra)
            elif "-" in text:
                base, last = (int(part) for part in text.split("-", 1))
                found = cls(base, last)
            else:
                found = cls(int(text), int(text))
        except ValueError:
            raise ValueError(f"unable to parse port range: {text}") from None
        if not 0 < found.base <= found.last <= 65535:
            raise ValueError(f"invalid port range: {text}")
        return found

    @property
    def size(self) -> int:
        return self.last - self.base + 1

    @property
    def static_band(self) -> int:
        return _static_band(self.size, 16, 128, 32)

    def offset(self, value: int) -> int | None:
        return value - self.base if self.base <= value <= self.last else None

    def value(self, offset: int) -> int:
        return self.base + offset

    def not_in_range(self, value: int) -> RangeError:
        return RangeError(
            f"provided port is not in the valid range. The range of valid ports is {self}"
        )

    def already_allocated(self) -> RangeError:
        return RangeError("provided port is already allocated")

    def __str__(self) -> str:
        return f"{self.base}-{self.last}"


def choose_free(size: int, static_band: int, taken: Set[int], rng: random.Random) -> int:
    """A free offset: from a random start above the static band, else in the band.

    Raises RangeError(FULL) when every offset is taken.
    """
    if len(taken) >= size:
        raise RangeError(FULL)
    for low, high in ((static_band, size), (0, static_band)):
        if low >= high:
            continue
        start = rng.randrange(low, high)
        for offset in itertools.chain(range(start, high), range(low, start)):
            if offset not in taken:
                return offset
    raise RangeError(FULL)
