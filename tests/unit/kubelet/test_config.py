"""KubeletConfiguration files: upstream's names and defaults, errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pynetes.kubelet.config import (
    DEFAULT_EVICTION_HARD,
    ConfigError,
    KubeletConfiguration,
    load_config,
    parse_capacity,
    parse_config,
)

HEADER = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_and_an_empty_configuration_have_upstreams_defaults(tmp_path: Path) -> None:
    for config in (load_config(None), load_config(write(tmp_path, HEADER))):
        assert config.sync_frequency == 60
        assert config.file_check_frequency == 20
        assert config.http_check_frequency == 20
        assert config.node_status_update_frequency == 10
        assert config.node_status_report_frequency == 300
        assert config.node_lease_duration_seconds == 40
        assert config.max_pods == 110
        assert config.port == 10250
        assert config.pod_logs_dir == "/var/log/pods"
        assert config.container_log_max_size == "10Mi"
        assert config.container_log_max_files == 5
        assert config.register_node is True
        assert dict(config.eviction_hard) == DEFAULT_EVICTION_HARD
        assert config.shutdown_grace_period == 0


def test_the_address_defaults_to_loopback_not_every_interface() -> None:
    assert KubeletConfiguration().address == "127.0.0.1"


def test_a_yaml_file_sets_upstreams_fields(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            HEADER
            + """
staticPodPath: /etc/kubernetes/manifests
syncFrequency: 30s
fileCheckFrequency: 1m30s
nodeStatusUpdateFrequency: 500ms
nodeStatusReportFrequency: 1m
nodeLeaseDurationSeconds: 20
maxPods: 50
podCIDR: 10.244.0.0/24
evictionHard: {memory.available: 200Mi, nodefs.available: 5%}
port: 10300
address: 0.0.0.0
tlsCertFile: /tls.crt
tlsPrivateKeyFile: /tls.key
authentication: {x509: {clientCAFile: /ca.crt}}
podLogsDir: /logs
containerLogMaxSize: 1Mi
containerLogMaxFiles: 3
registerNode: false
registerWithTaints: [{key: dedicated, value: infra, effect: NoSchedule}]
systemReserved: {cpu: 100m, memory: 1Gi}
kubeReserved: {memory: 512Mi}
shutdownGracePeriod: 30s
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
""",
        )
    )
    assert config.static_pod_path == "/etc/kubernetes/manifests"
    assert config.sync_frequency == 30
    assert config.file_check_frequency == 90
    assert config.node_status_update_frequency == 0.5
    assert config.node_status_report_frequency == 60
    assert config.node_lease_duration_seconds == 20
    assert config.max_pods == 50
    assert config.pod_cidr == "10.244.0.0/24"
    # a given map replaces the defaults, as upstream 1.31
    assert dict(config.eviction_hard) == {"memory.available": "200Mi", "nodefs.available": "5%"}
    assert (config.port, config.address) == (10300, "0.0.0.0")
    assert (config.tls_cert_file, config.tls_private_key_file) == ("/tls.crt", "/tls.key")
    assert config.client_ca_file == "/ca.crt"
    assert config.pod_logs_dir == "/logs"
    assert (config.container_log_max_size, config.container_log_max_files) == ("1Mi", 3)
    assert config.register_node is False
    assert config.register_with_taints == (
        {"key": "dedicated", "value": "infra", "effect": "NoSchedule"},
    )
    assert dict(config.system_reserved) == {"cpu": "100m", "memory": "1Gi"}
    assert dict(config.kube_reserved) == {"memory": "512Mi"}
    assert config.shutdown_grace_period == 30
    assert config.cluster_dns == ("10.96.0.10",)
    assert config.cluster_domain == "cluster.local"


def test_a_json_file_is_read_too(tmp_path: Path) -> None:
    document = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "maxPods": 7,
    }
    assert load_config(write(tmp_path, json.dumps(document), "c.json")).max_pods == 7


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("apiVersion: kubelet.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n", "apiVersion"),
        ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: Pod\n", "kind"),
        (HEADER + "syncFrequency: 10 seconds\n", "syncFrequency"),
        (HEADER + "fileCheckFrequency: 20\n", "fileCheckFrequency"),
        (HEADER + "maxPods: many\n", "maxPods"),
        (HEADER + "maxPods: true\n", "maxPods"),
        (HEADER + "port: 70000\n", "port"),
        (HEADER + "registerNode: yes please\n", "registerNode"),
        (HEADER + "evictionHard: {memory.available: lots}\n", "evictionHard[memory.available]"),
        (HEADER + "evictionHard: {nodefs.available: 150%}\n", "evictionHard[nodefs.available]"),
        (HEADER + "systemReserved: {memory: 1Gx}\n", "systemReserved[memory]"),
        (HEADER + "containerLogMaxSize: big\n", "containerLogMaxSize"),
        (HEADER + "registerWithTaints: [{key: a, effect: Sometimes}]\n", "registerWithTaints[0]"),
        (HEADER + "nodeStatusUpdateFrequency: 0s\n", "nodeStatusUpdateFrequency"),
        (HEADER + "staticPodPth: /x\n", "staticPodPth"),
        (HEADER + "authentication: {x509: {clientCAfile: /x}}\n", "authentication.x509"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert str(error.value).startswith(field), str(error.value)


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML or JSON"):
        load_config(write(tmp_path, "kind: [\n"))
    with pytest.raises(ConfigError):
        parse_config(["a", "list"])


def test_capacity_overrides_parse_and_stack() -> None:
    overrides = parse_capacity("cpu=4,memory=8Gi,pods=110")
    assert overrides == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    config = KubeletConfiguration().with_capacity(overrides).with_capacity({"cpu": "2"})
    assert dict(config.capacity_overrides) == {"cpu": "2", "memory": "8Gi", "pods": "110"}
    for bad in ("gpu=1", "cpu", "memory=eight"):
        with pytest.raises(ConfigError, match="capacity"):
            parse_capacity(bad)
