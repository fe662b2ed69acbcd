"""A pod's /etc/hosts as upstream's kubelet writes it (managedHostsFileContent)."""

from pathlib import Path

from pynetes.kubelet.etchosts import PodHostsFiles, mounts_etc_hosts

ALIASES = [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}, {"ip": "10.1.2.4"}]


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u1"}, "spec": spec}


def files(tmp_path: Path) -> PodHostsFiles:
    node = tmp_path / "node-hosts"
    node.write_text("127.0.0.1 localhost\n192.168.1.5 node-a\n")
    return PodHostsFiles(tmp_path / "pods", "cluster.local", node)


def test_a_pod_with_its_own_network_is_named_at_its_ip(tmp_path: Path) -> None:
    assert files(tmp_path).content(pod(), "10.244.0.7", own_network=True) == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "10.244.0.7\tweb-0\n"
    )


def test_a_subdomain_gives_the_fully_qualified_name_first_and_aliases_follow(
    tmp_path: Path,
) -> None:
    text = files(tmp_path).content(
        pod(hostname="db", subdomain="web", hostAliases=ALIASES), "10.244.0.7", own_network=True
    )
    assert text is not None
    assert text.endswith(
        "10.244.0.7\tdb.web.shop.svc.cluster.local\tdb\n"
        "\n# Entries added by HostAliases.\n"
        "10.1.2.3\tfoo.local\tbar.local\n"
        "10.1.2.4\t\n"
    )


def test_a_host_network_pod_keeps_the_nodes_file_unless_it_has_aliases(tmp_path: Path) -> None:
    hosts = files(tmp_path)
    assert hosts.content(pod(), "192.168.1.5", own_network=False) is None
    assert hosts.content(pod(hostAliases=ALIASES[:1]), "192.168.1.5", own_network=False) == (
        "# Kubernetes-managed hosts file (host network).\n"
        "127.0.0.1 localhost\n192.168.1.5 node-a\n"
        "\n# Entries added by HostAliases.\n"
        "10.1.2.3\tfoo.local\tbar.local\n"
    )


def test_no_file_before_the_pod_has_an_ip(tmp_path: Path) -> None:
    assert files(tmp_path).content(pod(), "", own_network=True) is None


def test_the_file_is_written_under_the_pods_folder_and_mounted_writable(tmp_path: Path) -> None:
    hosts = files(tmp_path)
    hosts.write("u1", "x\n")
    mount = hosts.mount("u1")
    assert (mount.container_path, mount.read_only) == ("/etc/hosts", False)
    assert Path(mount.host_path).read_text() == "x\n"
    assert Path(mount.host_path) == tmp_path / "pods" / "u1" / "etc-hosts"


def test_a_container_mounting_its_own_etc_hosts_is_left_alone() -> None:
    assert mounts_etc_hosts({"volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]})
    assert not mounts_etc_hosts({"volumeMounts": [{"name": "d", "mountPath": "/data"}]})
    assert not mounts_etc_hosts({})
