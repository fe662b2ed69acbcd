"""UDP flows a rule change leaves stale, and their removal with ``conntrack -D``.

A UDP "connection" lives in conntrack as long as packets keep coming, and a
flow once DNAT'd to an endpoint keeps going there even after the rules stop
choosing it; so, as upstream's kube-proxy does, when a UDP Service port loses an
endpoint its flows to that endpoint are deleted, and when a UDP Service port gets
its first endpoints the flows to its addresses are deleted (they were being
rejected, and conntrack would keep them so). TCP needs none of this: a new
connection is a new flow, and one to a gone endpoint is reset by it or times out.
"""

from __future__ import annotations

from pynetes.proxy.model import ServiceMap, ServicePort


def _addresses(port: ServicePort) -> list[str]:
    every = (*port.cluster_ips, *port.external_ips, *port.load_balancer_ips)
    return [ip for ip in every if ip and ":" not in ip]


def _udp(port: ServicePort) -> bool:
    return port.protocol.upper() == "UDP"


def _endpoint_ips(port: ServicePort | None) -> set[str]:
    return {e.ip for e in port.ready_endpoints()} if port is not None else set()


def stale_udp_flows(before: ServiceMap, after: ServiceMap) -> list[list[str]]:
    """``conntrack`` argument lists deleting the UDP flows that going from the
    services ``before`` to those ``after`` left stale (in a stable order)."""
    flows: list[list[str]] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and _udp(old):
            for endpoint in sorted(_endpoint_ips(old) - _endpoint_ips(new)):
                for ip in _addresses(old):
                    flows.append(["-D", "-p", "udp", "--orig-dst", ip, "--dst-nat", endpoint])
                if old.node_port:
                    port = str(old.node_port)
                    flows.append(
                        ["-D", "-p", "udp", "--orig-port-dst", port, "--dst-nat", endpoint]
                    )
        if new is not None and _udp(new) and _endpoint_ips(new) and not _endpoint_ips(old):
            for ip in _addresses(new):
                port = str(new.port)
                flows.append(["-D", "-p", "udp", "--orig-dst", ip, "--orig-port-dst", port])
    return flows
