"""The iptables rules a ServiceMap becomes: the exact text upstream's kube-proxy writes.

The expected lines are those of upstream's TestOverallIPTablesRules (same
services, same chain hashes), minus what this backend does not generate.
"""

from __future__ import annotations

import textwrap

from pynetes.proxy.iptables import chains
from pynetes.proxy.iptables.rules import RuleOptions, Table, jumps, probability, render
from pynetes.proxy.model import Endpoint, ServicePort


def port(ns: str, name: str, ip: str, *endpoints: Endpoint, **kw) -> ServicePort:
    kw.setdefault("port", 80)
    return ServicePort(ns, name, "p80", kw.pop("protocol", "TCP"), (ip,), endpoints=endpoints, **kw)


def services(*ports: ServicePort) -> dict[str, ServicePort]:
    return {p.key: p for p in ports}


OPTIONS = RuleOptions(cluster_cidr="10.0.0.0/8")


def test_chain_names_are_upstreams_hashes():
    assert chains.service_chain("ns1/svc1:p80", "TCP") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert chains.external_chain("ns3/svc3:p80", "tcp") == "KUBE-EXT-X27LE4BHSL4DOUIK"
    assert (
        chains.endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    )


def test_probabilities_make_a_uniform_choice():
    assert [probability(n) for n in (3, 2)] == ["0.3333333333", "0.5000000000"]


def test_overall_rules():
    rules = render(
        services(
            port("ns1", "svc1", "172.30.0.41", Endpoint("10.180.0.1", 80)),
            port("ns3", "svc3", "172.30.0.43", Endpoint("10.180.0.3", 80), node_port=3003),
            port(
                "ns4",
                "svc4",
                "172.30.0.44",
                Endpoint("10.180.0.4", 80),
                Endpoint("10.180.0.5", 80),
                external_ips=("192.168.99.33",),
            ),
            port(
                "ns5",
                "svc5",
                "172.30.0.45",
                Endpoint("10.180.0.3", 80),
                node_port=3002,
                session_affinity="ClientIP",
            ),
            port("ns6", "svc6", "172.30.0.46"),
        ),
        OPTIONS,
    )
    assert rules.filter.text() == textwrap.dedent("""\
        *filter
        :KUBE-SERVICES - [0:0]
        :KUBE-EXTERNAL-SERVICES - [0:0]
        :KUBE-FORWARD - [0:0]
        -A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
        -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        COMMIT
        """)  # noqa: E501
    assert rules.nat.text() == textwrap.dedent("""\
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
        :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
        :KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
        :KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
        :KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
        :KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
        :KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
        :KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
        :KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
        :KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
        :KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
        :KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
        -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
        -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
        -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
        -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
        -A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
        -A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
        -A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
        -A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
        -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
        -A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
        -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
        -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
        -A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
        -A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
        -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
        -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
        -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
        -A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
        -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
        -A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
        -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
        -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
        -A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
        -A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
        -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
        -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
        -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
        -A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
        COMMIT
        """)  # noqa: E501


def test_no_endpoints_rejects_cluster_ip_external_ips_and_node_port():
    rules = render(
        services(
            port(
                "ns1",
                "svc1",
                "172.30.0.41",
                node_port=3001,
                external_ips=("192.168.99.11",),
                load_balancer_ips=("1.2.3.4",),
            )
        ),
        OPTIONS,
    )
    why = '-m comment --comment "ns1/svc1:p80 has no endpoints"'
    assert rules.filter.rules[:4] == (
        f"-A KUBE-SERVICES {why} -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT",
        f"-A KUBE-EXTERNAL-SERVICES {why} -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT",
        f"-A KUBE-EXTERNAL-SERVICES {why} -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT",
        f"-A KUBE-EXTERNAL-SERVICES {why} -m addrtype --dst-type LOCAL -m tcp -p tcp "
        "--dport 3001 -j REJECT",
    )
    assert not any("KUBE-SVC-" in line for line in rules.nat.text().splitlines())


def test_only_ready_endpoints_and_terminating_ones_as_a_fallback():
    ready = Endpoint("10.180.0.1", 80)
    unready = Endpoint("10.180.0.2", 80, ready=False)
    terminating = Endpoint("10.180.0.3", 80, ready=False, serving=True, terminating=True)
    text = render(services(port("ns1", "svc1", "172.30.0.41", ready, unready)), OPTIONS).nat.text()
    assert "10.180.0.1:80" in text
    assert "10.180.0.2" not in text
    text = render(
        services(port("ns1", "svc1", "172.30.0.41", unready, terminating)), OPTIONS
    ).nat.text()
    assert "--to-destination 10.180.0.3:80" in text
    assert "10.180.0.2" not in text


def test_masquerade_options():
    one = services(port("ns1", "svc1", "172.30.0.41", Endpoint("10.180.0.1", 80)))
    head = (
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" '
        "-m tcp -p tcp -d 172.30.0.41 --dport 80"
    )
    everything = render(one, RuleOptions(cluster_cidr="10.0.0.0/8", masquerade_all=True))
    assert f"{head} -j KUBE-MARK-MASQ" in everything.nat.rules
    nothing = render(one, RuleOptions())
    assert not any(line.startswith(head) for line in nothing.nat.rules)


def test_udp_and_three_endpoints():
    rules = render(
        services(
            port(
                "ns7",
                "dns",
                "172.30.0.47",
                *(Endpoint(f"10.180.0.{i}", 53) for i in (1, 2, 3)),
                protocol="UDP",
                port=53,
            )
        ),
        OPTIONS,
    )
    balance = [line for line in rules.nat.rules if "-> 10.180" in line]
    assert [line.split("--probability ")[-1].split()[0] for line in balance[:2]] == [
        "0.3333333333",
        "0.5000000000",
    ]
    assert "statistic" not in balance[2]
    assert any("-m udp -p udp -j DNAT --to-destination 10.180.0.2:53" in r for r in rules.nat.rules)


def test_node_port_addresses_and_localhost_node_ports():
    one = services(port("ns1", "svc1", "172.30.0.41", Endpoint("10.180.0.1", 80), node_port=30001))
    listed = render(one, RuleOptions(node_port_addresses=("192.168.0.2", "fd00::1")))
    assert listed.nat.rules[-1].endswith("-d 192.168.0.2 -j KUBE-NODEPORTS")
    assert "fd00::1" not in listed.nat.text()
    localhost = render(one, RuleOptions(localhost_nodeports=True))
    assert localhost.nat.rules[-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    assert chains.FIREWALL in localhost.filter.chains
    assert localhost.filter.rules[-1] == (
        '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" '
        "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
    )
    assert {
        j.chain for j in jumps(RuleOptions(localhost_nodeports=True)) if j.table == "filter"
    } >= {
        "INPUT",
        "OUTPUT",
    }


def test_headless_and_ipv6_only_ports_get_no_rules():
    rules = render(
        services(
            ServicePort("ns", "headless", "", "TCP", (), 80),
            ServicePort("ns", "v6", "", "TCP", ("fd00::10",), 80),
        ),
        OPTIONS,
    )
    assert rules == render({}, OPTIONS)


def test_stale_chains_are_flushed_then_deleted_in_the_same_transaction():
    text = Table("nat", ("KUBE-SERVICES",), ("-A KUBE-SERVICES -j RETURN",)).text(
        delete={"KUBE-SVC-OLD", "KUBE-SERVICES"}
    )
    assert text == (
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLD - [0:0]\n"
        "-A KUBE-SERVICES -j RETURN\n-X KUBE-SVC-OLD\nCOMMIT\n"
    )


def test_jumps_are_upstreams():
    nat = [(j.chain, j.rule) for j in jumps(RuleOptions()) if j.table == "nat"]
    portals = ("-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES")
    assert ("OUTPUT", portals) in nat
    assert ("PREROUTING", portals) in nat
    assert (
        "POSTROUTING",
        ("-m", "comment", "--comment", "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"),
    ) in nat


def local_service(*endpoints: Endpoint) -> dict[str, ServicePort]:
    return services(
        port(
            "ns2",
            "svc2",
            "172.30.0.42",
            *endpoints,
            node_port=3001,
            external_ips=("192.168.99.22",),
            load_balancer_ips=("1.2.3.4",),
            external_traffic_policy="Local",
        )
    )


def test_local_policy_without_local_endpoints_drops_external_traffic():
    rules = render(
        local_service(Endpoint("10.180.0.2", 80, node_name="node-2")),
        RuleOptions(cluster_cidr="10.0.0.0/8", node_name="test-node"),
    )
    no_local = '-m comment --comment "ns2/svc2:p80 has no local endpoints"'
    assert set(rules.filter.rules) >= {
        f"-A KUBE-EXTERNAL-SERVICES {no_local} -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP",
        f"-A KUBE-EXTERNAL-SERVICES {no_local} -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
        f"-A KUBE-EXTERNAL-SERVICES {no_local} -m addrtype --dst-type LOCAL -m tcp -p tcp "
        "--dport 3001 -j DROP",
    }
    ext = "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
    assert [r for r in rules.nat.rules if r.startswith(f"-A {ext} ")] == [
        f'-A {ext} -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" '
        "-s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
        f'-A {ext} -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external '
        'destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        f'-A {ext} -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external '
        'destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
    ]
    assert (
        '-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" '
        "-j KUBE-SEP-RS4RBKLTHTF2IUXJ" in rules.nat.rules
    )
    assert not any("KUBE-SVL-" in c for c in rules.nat.chains)


def test_local_policy_sends_external_traffic_to_local_endpoints_only():
    rules = render(
        local_service(
            Endpoint("10.180.0.2", 80, node_name="node-2"),
            Endpoint("10.180.0.3", 80, node_name="test-node"),
        ),
        RuleOptions(cluster_cidr="10.0.0.0/8", node_name="test-node"),
    )
    svl = chains.local_chain("ns2/svc2:p80", "tcp")
    assert svl in rules.nat.chains
    assert f"-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j {svl}" in rules.nat.rules
    assert [r for r in rules.nat.rules if r.startswith(f"-A {svl} ")] == [
        f'-A {svl} -m comment --comment "ns2/svc2:p80 -> 10.180.0.3:80" '
        f"-j {chains.endpoint_chain('ns2/svc2:p80', 'tcp', '10.180.0.3:80')}"
    ]
    assert not any("has no local endpoints" in r for r in rules.filter.rules)
    # ClusterIP traffic still goes to every endpoint.
    assert (
        sum(
            r.startswith('-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 ->')
            for r in rules.nat.rules
        )
        == 2
    )
