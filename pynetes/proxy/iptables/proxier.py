"""The iptables backend: makes the machine's nat and filter tables match a ServiceMap.

Each :meth:`IptablesProxier.sync` renders the rules (a pure function of the
services and the options, see :mod:`.rules`) and, only when they differ from
what it last applied, applies them in one ``iptables-restore --noflush`` per
sync: every chain of ours is declared (which flushes it) and rewritten, and the
``KUBE-SVC/SVL/SEP/EXT`` chains no longer needed are flushed and deleted in the
same transaction, so the data path never sees half a change and other users'
rules are left alone; then the UDP flows the change left stale are deleted from
conntrack (see :mod:`.conntrack`). The jumps from the built-in chains are checked
(``iptables -C``) and inserted once, and again at each periodic resync, which
also re-applies the rules whole (repairing anything changed behind our back).

What this backend assumes of its caller: the service range is kept on the
machine (``ip route add local <service-cidr> dev lo``, done by ``pynetes proxy``),
so that a ClusterIP without rules is refused locally instead of routed out; the
DNAT in nat OUTPUT works with that route (see facts/machine.md).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pynetes.proxy.iptables import chains
from pynetes.proxy.iptables.commands import CommandRunner, Iptables, run
from pynetes.proxy.iptables.conntrack import stale_udp_flows
from pynetes.proxy.iptables.rules import RuleOptions, RuleSet, Table, jumps, render
from pynetes.proxy.model import ServiceMap

log = logging.getLogger(__name__)

#: upstream's default --iptables-sync-period.
DEFAULT_SYNC_PERIOD = 30.0

#: Lets packets with a 127.0.0.0/8 source be routed out of lo (after DNAT).
ROUTE_LOCALNET = Path("/proc/sys/net/ipv4/conf/all/route_localnet")


class IptablesProxier:
    """A :class:`~pynetes.proxy.model.ProxyBackend` programming iptables (root, Linux).

    Keyword arguments (kube-proxy's flags):

    ``cluster_cidr``
        The pod range (``--cluster-cidr``, e.g. ``"10.244.0.0/16"``): ClusterIP
        traffic from outside it is masqueraded. None: not masqueraded (unless
        ``masquerade_all``), as upstream without a local-traffic detector.
    ``masquerade_all``
        Masquerade all ClusterIP traffic (``--masquerade-all``).
    ``node_port_addresses``
        The IPv4 addresses NodePorts answer on; empty (the default): every local
        address (``-m addrtype --dst-type LOCAL``).
    ``localhost_nodeports``
        NodePorts answer on 127.0.0.1 too (upstream's ``--iptables-localhost-nodeports``,
        default there true, here false): needs ``net.ipv4.conf.all.route_localnet=1``,
        which this backend then sets (and restores on cleanup), with upstream's
        KUBE-FIREWALL rule dropping martian packets to 127.0.0.0/8.
    ``node_name``
        This node's name: endpoints on it are local (``externalTrafficPolicy: Local``).
    ``sync_period``
        Seconds between full resyncs (``--iptables-sync-period``, default 30).
    ``runner``, ``route_localnet``
        What runs the iptables commands and the route_localnet sysctl file (tests
        pass fakes).
    """

    def __init__(
        self,
        *,
        cluster_cidr: str | None = None,
        masquerade_all: bool = False,
        node_port_addresses: tuple[str, ...] = (),
        localhost_nodeports: bool = False,
        node_name: str | None = None,
        sync_period: float = DEFAULT_SYNC_PERIOD,
        runner: CommandRunner = run,
        route_localnet: Path = ROUTE_LOCALNET,
    ) -> None:
        self.options = RuleOptions(
            cluster_cidr=cluster_cidr,
            masquerade_all=masquerade_all,
            node_port_addresses=tuple(node_port_addresses),
            localhost_nodeports=localhost_nodeports,
            node_name=node_name,
        )
        self.sync_period = sync_period
        self._iptables = Iptables(runner)
        self._route_localnet = route_localnet
        self._route_localnet_before: str | None = None
        self._lock = asyncio.Lock()
        self._services: ServiceMap | None = None
        #: The services the tables were last made to match (for stale UDP flows).
        self._synced: ServiceMap = {}
        self._applied: RuleSet | None = None
        self._jumps_ensured = False
        self._resync: asyncio.Task[None] | None = None
        #: How many times the rules were written (tests and metrics read it).
        self.restores = 0

    async def sync(self, services: ServiceMap) -> None:
        """Make the tables match ``services``; a no-op when the rules are unchanged.
        Raises IptablesError when a command fails (the next sync retries)."""
        async with self._lock:
            self._services = services
            await self._apply(render(services, self.options), force=False)
            for flow in stale_udp_flows(self._synced, services):
                await self._iptables.delete_flows(flow)
            self._synced = services
        if self._resync is None:
            self._resync = asyncio.get_running_loop().create_task(self._resync_forever())

    async def cleanup(self) -> None:
        """Remove our jumps and every chain of ours from filter and nat (found with
        iptables-save, so it also cleans up after another process: ``--cleanup``),
        and restore route_localnet if this backend changed it."""
        if self._resync is not None:
            self._resync.cancel()
            await asyncio.gather(self._resync, return_exceptions=True)
            self._resync = None
        async with self._lock:
            every_jump = jumps(RuleOptions(localhost_nodeports=True))
            for jump in every_jump:
                while await self._iptables.has_rule(jump.table, jump.chain, list(jump.rule)):
                    await self._iptables.delete_rule(jump.table, jump.chain, list(jump.rule))
            for table in ("filter", "nat"):
                owned = {c for c in await self._iptables.chains(table) if chains.is_owned(table, c)}
                if owned:
                    await self._iptables.restore(Table(table, (), ()).text(delete=owned))
            self._restore_route_localnet()
            self._services = None
            self._synced = {}
            self._applied = None
            self._jumps_ensured = False

    async def _apply(self, rules: RuleSet, *, force: bool) -> None:
        if rules == self._applied and not force:
            return
        if self.options.localhost_nodeports:
            self._enable_route_localnet()
        existing = await self._iptables.chains("nat")
        stale = {c for c in existing if c.startswith(chains.PER_SERVICE_PREFIXES)}
        self._applied = None  # unknown until the restore succeeds
        await self._iptables.restore(rules.filter.text() + rules.nat.text(delete=stale))
        self.restores += 1
        self._applied = rules
        if force or not self._jumps_ensured:
            await self._ensure_jumps()

    async def _ensure_jumps(self) -> None:
        for jump in jumps(self.options):
            if not await self._iptables.has_rule(jump.table, jump.chain, list(jump.rule)):
                await self._iptables.insert_rule(jump.table, jump.chain, list(jump.rule))
        self._jumps_ensured = True

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            try:
                async with self._lock:
                    if self._services is not None:
                        await self._apply(render(self._services, self.options), force=True)
            except Exception:
                log.exception("periodic iptables resync failed")

    def _enable_route_localnet(self) -> None:
        current = self._route_localnet.read_text().strip()
        if current != "1":
            if self._route_localnet_before is None:
                self._route_localnet_before = current
            self._route_localnet.write_text("1\n")

    def _restore_route_localnet(self) -> None:
        if self._route_localnet_before is not None:
            self._route_localnet.write_text(self._route_localnet_before + "\n")
            self._route_localnet_before = None
