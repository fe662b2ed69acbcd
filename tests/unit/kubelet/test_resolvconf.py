"""A pod's resolv.conf as upstream's kubelet forms it (pkg/kubelet/network/dns)."""

from pynetes.kubelet.resolvconf import DNSConfig, parse_resolv_conf, pod_dns

HOST = parse_resolv_conf(
    "# written by hand\n"
    "nameserver 192.0.2.53\n"
    "nameserver 192.0.2.54\n"
    "search old.example\n"
    "search corp.example. example.\n"
    "options edns0 timeout:2\n"
)


def pod(policy=None, *, host_network=False, dns_config=None, namespace="prod"):
    spec = {"hostNetwork": host_network}
    if policy:
        spec["dnsPolicy"] = policy
    if dns_config:
        spec["dnsConfig"] = dns_config
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def form(obj, cluster_dns=("10.96.0.10",), host=HOST):
    return pod_dns(obj, cluster_dns=list(cluster_dns), cluster_domain="cluster.local", host=host)


def test_the_host_file_is_parsed_as_the_kubelet_parses_it():
    assert (
        DNSConfig(("192.0.2.53", "192.0.2.54"), ("corp.example", "example"), ("edns0", "timeout:2"))
        == HOST
    )


def test_cluster_first_uses_the_cluster_dns_and_search_path_then_the_hosts():
    formed = form(pod())
    assert formed.warnings == ()
    assert formed.config.render() == (
        "search prod.svc.cluster.local svc.cluster.local cluster.local corp.example example\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )


def test_cluster_first_on_the_host_network_falls_back_to_the_host():
    assert form(pod("ClusterFirst", host_network=True)).config == HOST


def test_cluster_first_with_host_net_uses_the_cluster_dns_on_the_host_network():
    formed = form(pod("ClusterFirstWithHostNet", host_network=True))
    assert formed.config.nameservers == ("10.96.0.10",)
    assert formed.config.searches[0] == "prod.svc.cluster.local"


def test_without_cluster_dns_cluster_first_falls_back_to_default_with_a_warning():
    formed = form(pod(), cluster_dns=())
    assert formed.config == HOST
    assert [reason for reason, _ in formed.warnings] == ["MissingClusterDNS"]


def test_default_uses_the_host_or_localhost_without_a_host_file():
    assert form(pod("Default")).config == HOST
    assert form(pod("Default"), host=None).config.render() == ("search .\nnameserver 127.0.0.1\n")


def test_none_uses_only_the_pods_dns_config():
    config = {
        "nameservers": ["192.0.2.1"],
        "searches": ["a.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }
    assert form(pod("None", dns_config=config)).config.render() == (
        "search a.example\nnameserver 192.0.2.1\noptions ndots:2 edns0\n"
    )


def test_a_dns_config_is_appended_without_duplicates_and_overrides_options():
    config = {
        "nameservers": ["10.96.0.10", "192.0.2.1"],
        "searches": ["cluster.local", "extra.example"],
        "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}],
    }
    formed = form(pod(dns_config=config)).config
    assert formed.nameservers == ("10.96.0.10", "192.0.2.1")
    assert formed.searches[-2:] == ("example", "extra.example")
    assert formed.options == ("ndots:1", "single-request")


def test_limits_cut_nameservers_and_search_paths_with_warnings():
    config = {
        "nameservers": [f"192.0.2.{i}" for i in range(5)],
        "searches": [f"d{i}.example" for i in range(40)] + ["x" * 254],
    }
    formed = form(pod("None", dns_config=config))
    assert len(formed.config.nameservers) == 3
    assert len(formed.config.searches) == 32
    assert [reason for reason, _ in formed.warnings] == ["DNSConfigForming", "DNSConfigForming"]


def test_the_search_line_is_cut_to_2048_characters():
    config = {"searches": [f"{i:02d}" + "x" * 98 for i in range(25)]}
    formed = form(pod("None", dns_config=config))
    assert len(" ".join(formed.config.searches)) <= 2048
    assert len(formed.config.searches) == 20
