"""IptablesProxier's use of the iptables tools, against a fake that keeps chains and jumps."""

from __future__ import annotations

import asyncio

import pytest

from pynetes.proxy.iptables import IptablesProxier
from pynetes.proxy.iptables.commands import IptablesError
from pynetes.proxy.model import Endpoint, ServicePort


class FakeIptables:
    """Just enough of iptables: restore declares and deletes chains, -C/-I/-D on jumps."""

    def __init__(self) -> None:
        self.chains: dict[str, set[str]] = {"filter": set(), "nat": set()}
        self.jumps: list[tuple[str, str, tuple[str, ...]]] = []
        self.restored: list[str] = []
        self.fail_restore = False
        self.flows: list[list[str]] = []

    async def __call__(self, args: list[str], stdin: str | None = None) -> str:
        if args[0] == "iptables-restore":
            if self.fail_restore:
                raise IptablesError("iptables-restore: exit 1")
            assert stdin is not None
            self.restored.append(stdin)
            table = ""
            for line in stdin.splitlines():
                if line.startswith("*"):
                    table = line[1:]
                elif line.startswith(":"):
                    self.chains[table].add(line[1:].split()[0])
                elif line.startswith("-X "):
                    self.chains[table].discard(line[3:])
            return ""
        if args[0] == "conntrack":
            self.flows.append(args[1:])
            raise IptablesError("conntrack: exit 1: 0 flow entries have been deleted.")
        if args[0] == "iptables-save":
            return "".join(f":{c} - [0:0]\n" for c in sorted(self.chains[args[2]]))
        table, op, chain, rule = args[3], args[4], args[5], tuple(args[6:])
        if op == "-C":
            if (table, chain, rule) not in self.jumps:
                raise IptablesError("no such rule")
        elif op == "-I":
            self.jumps.insert(0, (table, chain, rule))
        elif op == "-D":
            self.jumps.remove((table, chain, rule))
        return ""


def web(*ips: str) -> dict[str, ServicePort]:
    port = ServicePort(
        "default",
        "web",
        "",
        "TCP",
        ("10.96.0.10",),
        80,
        endpoints=tuple(Endpoint(ip, 8080) for ip in ips),
    )
    return {port.key: port}


@pytest.fixture
def fake() -> FakeIptables:
    return FakeIptables()


async def test_rules_are_written_only_when_they_change(fake):
    proxier = IptablesProxier(cluster_cidr="10.244.0.0/16", runner=fake)
    await proxier.sync(web("10.244.0.5"))
    await proxier.sync(web("10.244.0.5"))
    assert proxier.restores == 1
    assert len(fake.jumps) == 8
    await proxier.sync(web("10.244.0.6"))
    assert proxier.restores == 2
    await proxier.cleanup()


async def test_stale_service_chains_are_deleted(fake):
    proxier = IptablesProxier(runner=fake)
    await proxier.sync(web("10.244.0.5", "10.244.0.6"))
    before = {c for c in fake.chains["nat"] if c.startswith("KUBE-SEP-")}
    await proxier.sync(web("10.244.0.6"))
    after = {c for c in fake.chains["nat"] if c.startswith("KUBE-SEP-")}
    assert len(before) == 2
    assert len(after) == 1
    assert f"-X {(before - after).pop()}" in fake.restored[-1]
    await proxier.sync({})
    assert not any(c.startswith(("KUBE-SVC-", "KUBE-SEP-")) for c in fake.chains["nat"])
    await proxier.cleanup()


async def test_a_failed_restore_is_retried_by_the_next_sync(fake):
    proxier = IptablesProxier(runner=fake)
    fake.fail_restore = True
    with pytest.raises(IptablesError):
        await proxier.sync(web("10.244.0.5"))
    fake.fail_restore = False
    await proxier.sync(web("10.244.0.5"))
    assert proxier.restores == 1
    await proxier.cleanup()


async def test_jumps_are_inserted_once(fake):
    proxier = IptablesProxier(runner=fake)
    await proxier.sync(web("10.244.0.5"))
    await proxier.sync(web("10.244.0.6"))
    assert len(fake.jumps) == len(set(fake.jumps)) == 8
    await proxier.cleanup()


async def test_cleanup_removes_every_chain_and_jump_even_from_a_fresh_proxier(fake):
    await IptablesProxier(runner=fake).sync(web("10.244.0.5"))
    fake.chains["filter"].add("OTHER-CHAIN")
    await IptablesProxier(runner=fake).cleanup()
    assert fake.jumps == []
    assert fake.chains == {"filter": {"OTHER-CHAIN"}, "nat": set()}


async def test_localhost_node_ports_set_route_localnet_and_cleanup_restores_it(fake, tmp_path):
    sysctl = tmp_path / "route_localnet"
    sysctl.write_text("0\n")
    proxier = IptablesProxier(localhost_nodeports=True, runner=fake, route_localnet=sysctl)
    await proxier.sync(web("10.244.0.5"))
    assert sysctl.read_text() == "1\n"
    assert len(fake.jumps) == 10
    await proxier.cleanup()
    assert sysctl.read_text() == "0\n"
    assert fake.jumps == []


async def test_periodic_resync_rewrites_the_rules(fake):
    proxier = IptablesProxier(runner=fake, sync_period=0.01)
    await proxier.sync(web("10.244.0.5"))
    fake.jumps.clear()  # someone removed our jumps
    for _ in range(500):
        if proxier.restores > 1 and len(fake.jumps) == 8:
            break
        await asyncio.sleep(0.01)
    assert proxier.restores > 1
    assert len(fake.jumps) == 8
    await proxier.cleanup()


async def test_stale_udp_flows_are_deleted_after_the_rules_change(fake):
    def dns(*ips: str) -> dict[str, ServicePort]:
        endpoints = tuple(Endpoint(ip, 53) for ip in ips)
        port = ServicePort(
            "kube-system", "dns", "", "UDP", ("10.96.0.10",), 53, endpoints=endpoints
        )
        return {port.key: port}

    proxier = IptablesProxier(runner=fake)
    await proxier.sync(dns("10.244.0.5", "10.244.0.6"))
    await proxier.sync(dns("10.244.0.6"))
    assert fake.flows == [
        ["-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"],
        ["-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.244.0.5"],
    ]
    await proxier.cleanup()
