"""Where a probe or hook connects: a container port by number or name, ``host:port`` text."""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]


def resolve_container_port(port: int | str, container: Object) -> int:
    """The port number ``port`` means: a number, a container port's name, or a number as text.

    As upstream's ``probe.ResolveContainerPort``, with its error texts: ValueError
    when the name is unknown and not a number, or the number is out of range.
    """
    if isinstance(port, int):
        number = port
    else:
        named = [p["containerPort"] for p in container.get("ports") or () if p.get("name") == port]
        if named:
            number = named[0]
        elif port.lstrip("+-").isdigit():
            number = int(port)
        else:
            raise ValueError(f'strconv.Atoi: parsing "{port}": invalid syntax')
    if 0 < number < 65536:
        return number
    raise ValueError(f"invalid port number: {number}")


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
