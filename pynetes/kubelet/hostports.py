"""The ports a pod takes on its node, and which of them another pod has taken already.

A pod with a network namespace of its own takes only its ``hostPort``s on the node. A pod
that shares the node's network (``hostNetwork``, or every pod where the runtime cannot
give pods namespaces) takes every port it declares: two such pods declaring one port
cannot both bind it. The kubelet tells the user with a Warning Event (reason
``NodePorts``, the message of upstream's NodePorts scheduler plugin) instead of leaving
the second pod to crash on "address already in use"; it still runs the pod (a declared
port is informational, the pod may not bind it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Object = dict[str, Any]
#: (port, protocol, host IP ("" = every address)).
NodePort = tuple[int, str, str]
REASON = "NodePorts"
#: upstream's NodePorts plugin's reason.
MESSAGE = "node(s) didn't have free ports for the requested pod ports"


def node_ports(pod: Object, shares_host_network: bool) -> set[NodePort]:
    """The ports ``pod`` takes on the node."""
    taken: set[NodePort] = set()
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            number = port.get("hostPort") or (port["containerPort"] if shares_host_network else 0)
            if number:
                taken.add((number, port.get("protocol") or "TCP", port.get("hostIP") or ""))
    return taken


def conflicts(wanted: set[NodePort], others: Iterable[tuple[Object, set[NodePort]]]) -> list[str]:
    """Why ``wanted`` cannot all be had: "8080/TCP is used by pod ns/name" for each port
    that another pod takes (the same host IP, or either on every address)."""
    found = []
    for number, protocol, host_ip in sorted(wanted):
        for other, taken in others:
            if any(
                n == number and p == protocol and (not h or not host_ip or h == host_ip)
                for n, p, h in taken
            ):
                meta = other["metadata"]
                owner = f"{meta.get('namespace', 'default')}/{meta['name']}"
                found.append(f"{number}/{protocol} is used by pod {owner}")
                break
    return found
