"""Container specs to runtime configs: cgroup settings, restart decisions, spec hashes."""

from pynetes.kubelet.containers import container_hash, linux_resources, should_restart


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
