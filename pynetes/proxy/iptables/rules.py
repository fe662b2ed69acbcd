"""The rules for a ServiceMap: a pure function from services to iptables-restore text.

The rules are those of upstream's ``pkg/proxy/iptables/proxier.go`` (Kubernetes
1.31), with the same chains, matches and comments, for what a :class:`ServicePort`
can express (ClusterIPs, NodePorts, external and load-balancer IPs, ClientIP
session affinity), for IPv4:

nat
    ``KUBE-SERVICES`` matches each ClusterIP:port (-> ``KUBE-SVC-*``) and external
    IP:port (-> ``KUBE-EXT-*``); its last rule sends local destinations to
    ``KUBE-NODEPORTS`` (NodePort -> ``KUBE-EXT-*``). ``KUBE-EXT-*`` marks for
    masquerade and goes on to ``KUBE-SVC-*`` (with ``externalTrafficPolicy:
    Local``: only traffic from pods or this node goes there, the rest to
    ``KUBE-SVL-*``, this node's endpoints, unmasqueraded). ``KUBE-SVC-*`` marks traffic not
    from the cluster CIDR for masquerade (or all with masquerade-all), then picks
    an endpoint: ``-m recent`` first when sticky, then ``-m statistic --mode
    random --probability 1/n, 1/(n-1), ...`` and a last unconditional jump (a
    uniform choice). ``KUBE-SEP-*`` marks hairpin traffic (from the endpoint
    itself) and DNATs. ``KUBE-POSTROUTING`` masquerades packets bearing the 0x4000
    mark (clearing it first, so a packet re-traversing is not masqueraded twice).
filter
    ``KUBE-SERVICES`` rejects ClusterIP:ports without endpoints,
    ``KUBE-EXTERNAL-SERVICES`` external IPs and NodePorts without endpoints
    (and drops them when Local and without local endpoints),
    ``KUBE-FORWARD`` accepts marked and established forwarded traffic, and with
    localhost NodePorts ``KUBE-FIREWALL`` drops martians to 127.0.0.0/8.

Not generated (nothing in the ServiceMap asks for it, or the backend does not do
it): load-balancer source ranges (``KUBE-FW-*``), health-check NodePorts,
internalTrafficPolicy, topology hints, IPv6 (addresses with ``:`` are skipped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from pynetes.proxy.iptables import chains
from pynetes.proxy.model import Endpoint, ServiceMap, ServicePort

#: upstream's default --iptables-masquerade-bit 14.
MASQUERADE_MARK = "0x4000"

#: The last rule of nat KUBE-SERVICES: local destinations may be NodePorts.
NODEPORTS_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"


@dataclass(frozen=True)
class RuleOptions:
    """What shapes the rules besides the services (kube-proxy's flags).

    ``cluster_cidr``: the pod range (``--cluster-cidr``); traffic to a ClusterIP
    from outside it is masqueraded so replies come back through this node. None:
    no such rule (upstream without a local-traffic detector).
    ``masquerade_all``: masquerade all ClusterIP traffic (``--masquerade-all``).
    ``node_port_addresses``: the addresses NodePorts answer on
    (``--nodeport-addresses``); empty: every local address.
    ``localhost_nodeports``: NodePorts answer on 127.0.0.1 too (needs
    ``route_localnet``, which the proxier sets); else 127.0.0.0/8 is excluded.
    ``node_name``: this node (``--hostname-override``): endpoints with this
    ``node_name`` are local, for ``externalTrafficPolicy: Local``.
    """

    cluster_cidr: str | None = None
    masquerade_all: bool = False
    node_port_addresses: tuple[str, ...] = ()
    localhost_nodeports: bool = False
    node_name: str | None = None


@dataclass(frozen=True)
class Table:
    """One table's part of an iptables-restore input: chains to (re)declare, rules."""

    name: str
    chains: tuple[str, ...]
    rules: tuple[str, ...]

    def text(self, delete: Iterable[str] = ()) -> str:
        """The iptables-restore text (for ``--noflush``): declaring a chain flushes it,
        so every chain listed is rewritten whole; ``delete`` chains (stale ones) are
        flushed and removed in the same transaction."""
        doomed = sorted(set(delete) - set(self.chains))
        lines = [f"*{self.name}"]
        lines += [f":{chain} - [0:0]" for chain in (*self.chains, *doomed)]
        lines += self.rules
        lines += [f"-X {chain}" for chain in doomed]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RuleSet:
    """The rules for both tables."""

    filter: Table
    nat: Table


def comment(text: str) -> str:
    """``-m comment --comment TEXT``, quoted when it has spaces (as upstream writes it)."""
    return f'-m comment --comment "{text}"' if " " in text else f"-m comment --comment {text}"


def probability(remaining: int) -> str:
    """The statistic probability for an endpoint with ``remaining`` endpoints left
    (itself included): 1/remaining, written as upstream's ``%0.10f``."""
    return f"{1.0 / remaining:0.10f}"


def render(services: ServiceMap, options: RuleOptions) -> RuleSet:
    """The complete rules for ``services``: deterministic (ports sorted by key), so
    the text changes only when the services do."""
    builder = _Builder(options)
    for key in sorted(services):
        builder.service_port(services[key])
    return builder.finish()


def _ipv4(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if a and ":" not in a]


def _addresses(endpoints: Iterable[Endpoint]) -> dict[str, Endpoint]:
    """``ip:port`` -> endpoint, in order, each once (a duplicate would declare a chain twice)."""
    return {f"{e.ip}:{e.port}": e for e in endpoints}


class _Builder:
    """Accumulates the chains and rules of both tables, in upstream's order."""

    def __init__(self, options: RuleOptions) -> None:
        self.options = options
        self.filter_chains: list[str] = [chains.SERVICES, chains.EXTERNAL_SERVICES, chains.FORWARD]
        self.filter_rules: list[str] = []
        self.nat_chains: list[str] = [
            chains.SERVICES,
            chains.NODEPORTS,
            chains.POSTROUTING,
            chains.MARK_MASQ,
        ]
        mark = MASQUERADE_MARK
        self.nat_rules: list[str] = [
            f"-A {chains.POSTROUTING} -m mark ! --mark {mark}/{mark} -j RETURN",
            # The mark is cleared so a re-traversing (e.g. IPsec) packet is not
            # masqueraded again.
            f"-A {chains.POSTROUTING} -j MARK --xor-mark {mark}",
            f"-A {chains.POSTROUTING} "
            f"{comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE",
            f"-A {chains.MARK_MASQ} -j MARK --or-mark {mark}",
        ]

    def service_port(self, port: ServicePort) -> None:
        cluster_ips = _ipv4(port.cluster_ips)
        external_ips = _ipv4(port.external_ips)
        lb_ips = _ipv4(port.load_balancer_ips)
        if not cluster_ips:
            return  # headless, or IPv6 only: nothing to proxy here
        name = port.key
        proto = port.protocol.lower()
        match = f"-m {proto} -p {proto}"
        svc_chain = chains.service_chain(name, proto)
        ext_chain = chains.external_chain(name, proto)
        endpoints = port.ready_endpoints()
        has_external = bool(external_ips or lb_ips or port.node_port)
        if not endpoints:
            self._reject(port, cluster_ips, external_ips + lb_ips, "has no endpoints", "REJECT")
            return
        # externalTrafficPolicy: Local sends external traffic only to this node's
        # endpoints (KUBE-SVL-*), unmasqueraded so the pod sees the client.
        local_policy = has_external and port.external_traffic_policy == "Local"
        local = self._local_endpoints(port) if local_policy else ()
        if local_policy and not local:
            self._reject(port, [], external_ips + lb_ips, "has no local endpoints", "DROP")
        nat = self.nat_rules.append
        for ip in cluster_ips:
            nat(
                f"-A {chains.SERVICES} {comment(f'{name} cluster IP')} {match} "
                f"-d {ip} --dport {port.port} -j {svc_chain}"
            )
        for kind, ips in (("external IP", external_ips), ("loadbalancer IP", lb_ips)):
            for ip in ips:
                nat(
                    f"-A {chains.SERVICES} {comment(f'{name} {kind}')} {match} "
                    f"-d {ip} --dport {port.port} -j {ext_chain}"
                )
        if port.node_port:
            nat(
                f"-A {chains.NODEPORTS} {comment(name)} {match} "
                f"--dport {port.node_port} -j {ext_chain}"
            )
        if has_external:
            self._external_chain(port, ext_chain, svc_chain, local_policy, bool(local))
        self.nat_chains.append(svc_chain)
        for ip in cluster_ips:
            masquerade = self._cluster_ip_masquerade(port, svc_chain, ip, match)
            if masquerade:
                nat(masquerade)
        self._balance(port, svc_chain, endpoints)
        if local:
            svl_chain = chains.local_chain(name, proto)
            self.nat_chains.append(svl_chain)
            self._balance(port, svl_chain, local)
        self._endpoint_chains(port, (*endpoints, *local), match)

    def _local_endpoints(self, port: ServicePort) -> tuple[Endpoint, ...]:
        """This node's endpoints, chosen as the ServicePort chooses among all."""
        node = self.options.node_name
        mine = tuple(e for e in port.endpoints if node and e.node_name == node)
        return dataclasses.replace(port, endpoints=mine).ready_endpoints() if mine else ()

    def _external_chain(
        self, port: ServicePort, ext_chain: str, svc_chain: str, local_policy: bool, local: bool
    ) -> None:
        name = port.key
        nat = self.nat_rules.append
        self.nat_chains.append(ext_chain)
        if not local_policy:
            why = comment(f"masquerade traffic for {name} external destinations")
            nat(f"-A {ext_chain} {why} -j {chains.MARK_MASQ}")
            nat(f"-A {ext_chain} -j {svc_chain}")
            return
        if self.options.cluster_cidr:
            why = comment(f"pod traffic for {name} external destinations")
            nat(f"-A {ext_chain} {why} -s {self.options.cluster_cidr} -j {svc_chain}")
        src_local = "-m addrtype --src-type LOCAL"
        why = comment(f"masquerade LOCAL traffic for {name} external destinations")
        nat(f"-A {ext_chain} {why} {src_local} -j {chains.MARK_MASQ}")
        why = comment(f"route LOCAL traffic for {name} external destinations")
        nat(f"-A {ext_chain} {why} {src_local} -j {svc_chain}")
        if local:
            nat(f"-A {ext_chain} -j {chains.local_chain(name, port.protocol)}")

    def _cluster_ip_masquerade(
        self, port: ServicePort, svc_chain: str, ip: str, match: str
    ) -> str | None:
        prefix = (
            f"-A {svc_chain} {comment(f'{port.key} cluster IP')} {match} "
            f"-d {ip} --dport {port.port}"
        )
        if self.options.masquerade_all:
            return f"{prefix} -j {chains.MARK_MASQ}"
        if self.options.cluster_cidr:
            return f"{prefix} ! -s {self.options.cluster_cidr} -j {chains.MARK_MASQ}"
        return None

    def _balance(self, port: ServicePort, chain: str, endpoints: tuple[Endpoint, ...]) -> None:
        """Rules in ``chain`` picking one of ``endpoints``: a sticky client's recent
        choice first, then a uniform random one."""
        name = port.key
        addresses = _addresses(endpoints)
        sep = {a: chains.endpoint_chain(name, port.protocol, a) for a in addresses}
        nat = self.nat_rules.append
        if port.session_affinity == "ClientIP":
            for address in addresses:
                nat(
                    f"-A {chain} {comment(f'{name} -> {address}')} -m recent "
                    f"--name {sep[address]} --rcheck --seconds {port.affinity_timeout} --reap "
                    f"-j {sep[address]}"
                )
        for index, address in enumerate(addresses):
            remaining = len(addresses) - index
            statistic = (
                f"-m statistic --mode random --probability {probability(remaining)} "
                if remaining > 1
                else ""
            )
            nat(f"-A {chain} {comment(f'{name} -> {address}')} {statistic}-j {sep[address]}")

    def _endpoint_chains(
        self, port: ServicePort, endpoints: tuple[Endpoint, ...], match: str
    ) -> None:
        """A KUBE-SEP chain per distinct endpoint: hairpin masquerade, then DNAT."""
        name = port.key
        nat = self.nat_rules.append
        for address, endpoint in _addresses(endpoints).items():
            chain = chains.endpoint_chain(name, port.protocol, address)
            self.nat_chains.append(chain)
            nat(f"-A {chain} {comment(name)} -s {endpoint.ip} -j {chains.MARK_MASQ}")
            recent = (
                f"-m recent --name {chain} --set " if port.session_affinity == "ClientIP" else ""
            )
            nat(f"-A {chain} {comment(name)} {recent}{match} -j DNAT --to-destination {address}")

    def _reject(
        self,
        port: ServicePort,
        cluster_ips: list[str],
        external_ips: list[str],
        reason: str,
        verdict: str,
    ) -> None:
        """filter rules ending (``verdict``) traffic to addresses with nowhere to go."""
        why = comment(f"{port.key} {reason}")
        proto = port.protocol.lower()
        match = f"-m {proto} -p {proto}"
        rule = self.filter_rules.append
        for ip in cluster_ips:
            rule(f"-A {chains.SERVICES} {why} {match} -d {ip} --dport {port.port} -j {verdict}")
        for ip in external_ips:
            rule(
                f"-A {chains.EXTERNAL_SERVICES} {why} {match} -d {ip} "
                f"--dport {port.port} -j {verdict}"
            )
        if port.node_port:
            rule(
                f"-A {chains.EXTERNAL_SERVICES} {why} -m addrtype --dst-type LOCAL {match} "
                f"--dport {port.node_port} -j {verdict}"
            )

    def _nodeports_jump(self) -> list[str]:
        head = f"-A {chains.SERVICES} {comment(NODEPORTS_COMMENT)}"
        addresses = self.options.node_port_addresses
        if addresses:
            return [f"{head} -d {ip} -j {chains.NODEPORTS}" for ip in _ipv4(addresses)]
        localhost = "" if self.options.localhost_nodeports else " ! -d 127.0.0.0/8"
        return [f"{head} -m addrtype --dst-type LOCAL{localhost} -j {chains.NODEPORTS}"]

    def _forward_rules(self) -> list[str]:
        mark = MASQUERADE_MARK
        rules = [
            f"-A {chains.FORWARD} -m conntrack --ctstate INVALID -j DROP",
            f"-A {chains.FORWARD} {comment('kubernetes forwarding rules')} "
            f"-m mark --mark {mark}/{mark} -j ACCEPT",
            f"-A {chains.FORWARD} {comment('kubernetes forwarding conntrack rule')} "
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ]
        if self.options.localhost_nodeports:
            rules.append(
                f"-A {chains.FIREWALL} {comment('block incoming localnet connections')} "
                "-d 127.0.0.0/8 ! -s 127.0.0.0/8 "
                "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
            )
        return rules

    def finish(self) -> RuleSet:
        filter_chains = list(self.filter_chains)
        if self.options.localhost_nodeports:
            filter_chains.append(chains.FIREWALL)
        return RuleSet(
            filter=Table(
                "filter",
                tuple(filter_chains),
                tuple(self.filter_rules + self._forward_rules()),
            ),
            nat=Table(
                "nat",
                tuple(self.nat_chains),
                tuple(self.nat_rules + self._nodeports_jump()),
            ),
        )


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain that sends traffic into one of ours (upstream's
    iptablesJumpChains); ``rule`` is the argument list of ``iptables -I``."""

    table: str
    chain: str
    rule: tuple[str, ...]


def _jump(table: str, chain: str, target: str, why: str, new_only: bool = False) -> Jump:
    state = ("-m", "conntrack", "--ctstate", "NEW") if new_only else ()
    return Jump(table, chain, (*state, "-m", "comment", "--comment", why, "-j", target))


def jumps(options: RuleOptions) -> tuple[Jump, ...]:
    """The jumps from the built-in chains the rules need, in upstream's order."""
    external = "kubernetes externally-visible service portals"
    portals = "kubernetes service portals"
    found = [
        _jump("filter", "INPUT", chains.EXTERNAL_SERVICES, external, new_only=True),
        _jump("filter", "FORWARD", chains.EXTERNAL_SERVICES, external, new_only=True),
        _jump("filter", "FORWARD", chains.SERVICES, portals, new_only=True),
        _jump("filter", "OUTPUT", chains.SERVICES, portals, new_only=True),
        _jump("filter", "FORWARD", chains.FORWARD, "kubernetes forwarding rules"),
        _jump("nat", "OUTPUT", chains.SERVICES, portals),
        _jump("nat", "PREROUTING", chains.SERVICES, portals),
        _jump("nat", "POSTROUTING", chains.POSTROUTING, "kubernetes postrouting rules"),
    ]
    if options.localhost_nodeports:
        why = "kubernetes firewall for dropping marked packets"
        found += [
            _jump("filter", "INPUT", chains.FIREWALL, why),
            _jump("filter", "OUTPUT", chains.FIREWALL, why),
        ]
    return tuple(found)
