"""Container specs to runtime configs: cgroup settings, restart decisions, spec hashes,
host names."""

from pynetes.kubelet.containers import (
    container_hash,
    linux_resources,
    pod_hostname,
    should_restart,
)


def test_cpu_and_memory_limits_become_cgroup_settings_as_upstream():
    resources = linux_resources(
        {"resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}}}
    )
    assert resources.cpu_quota == 50_000 and resources.cpu_period == 100_000
    assert resources.cpu_shares == 256
    assert resources.memory_limit_in_bytes == 64 * 1024 * 1024


def test_no_resources_means_minimum_shares_and_no_limits():
    resources = linux_resources({})
    assert (resources.cpu_quota, resources.cpu_shares, resources.memory_limit_in_bytes) == (0, 2, 0)


def test_restart_policies():
    assert should_restart("Always", 0) and should_restart("Always", 1)
    assert should_restart("OnFailure", 1) and not should_restart("OnFailure", 0)
    assert not should_restart("Never", 1)


def test_the_hash_follows_the_spec():
    a = {"name": "app", "image": "busybox", "command": ["sleep", "1"]}
    assert container_hash(a) == container_hash(dict(reversed(list(a.items()))))
    assert container_hash(a) != container_hash({**a, "image": "alpine"})


def test_a_pods_host_name_is_its_hostname_else_its_name_cut_as_upstream_cuts_it():
    def pod(name: str, **spec: str) -> dict:
        return {"metadata": {"name": name}, "spec": spec}

    assert pod_hostname(pod("web-0")) == "web-0"
    assert pod_hostname(pod("web-0", hostname="db")) == "db"
    assert pod_hostname(pod("a" * 63)) == "a" * 63
    # Linux takes 63 characters at most; the cut drops the trailing dashes and dots.
    assert pod_hostname(pod("b" * 61 + "-.xyz")) == "b" * 61
    assert pod_hostname(pod("c" * 70)) == "c" * 63
