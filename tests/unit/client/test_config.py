"""Kubeconfig and in-cluster loading, as clientcmd and rest.InClusterConfig do it."""

from __future__ import annotations

import base64
import os
import ssl
from pathlib import Path

import pytest
import yaml

from pynetes.client.config import (
    ClientConfig,
    ConfigError,
    load_config,
    load_incluster_config,
    load_kubeconfig,
)
from pynetes.pki.certificates import issue_client_certificate, new_certificate_authority
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig

CA = new_certificate_authority()
CA_PEM = CA.certificate_pem()
CLIENT = issue_client_certificate(CA, "alice", ["devs"])
SECRET_TOKEN = "s3cr3t-token-value"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def config_file(
    clusters: dict[str, dict],
    users: dict[str, dict],
    contexts: dict[str, dict],
    current: str | None = None,
) -> dict:
    document: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": entry} for name, entry in clusters.items()],
        "users": [{"name": name, "user": entry} for name, entry in users.items()],
        "contexts": [{"name": name, "context": entry} for name, entry in contexts.items()],
    }
    if current is not None:
        document["current-context"] = current
    return document


def simple(server: str = "https://10.0.0.1:6443", user: dict | None = None, **context) -> dict:
    return config_file(
        {"c": {"server": server, "certificate-authority-data": b64(CA_PEM)}},
        {"u": user if user is not None else {"token": SECRET_TOKEN}},
        {"ctx": {"cluster": "c", "user": "u", **context}},
        "ctx",
    )


# -- what pynetes writes -----------------------------------------------------------


def test_a_kubeconfig_pynetes_writes_loads_with_its_client_certificate(tmp_path: Path) -> None:
    path = tmp_path / "admin.conf"
    write_kubeconfig(
        path,
        kubeconfig(
            server="https://127.0.0.1:6443",
            ca_pem=CA_PEM,
            user="alice",
            client=CLIENT,
            namespace="team",
        ),
    )
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443"
    assert config.ca_pem == CA_PEM
    assert config.client_cert_pem == CLIENT.certificate_pem()
    assert config.client_key_pem == CLIENT.key_pem()
    assert config.namespace == "team"
    assert (config.qps, config.burst) == (5.0, 10)
    context = config.ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [
        ((("commonName", "kubernetes"),),)
    ]


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    config = load_kubeconfig(write(tmp_path / "config", simple()))
    assert config.token == SECRET_TOKEN
    assert SECRET_TOKEN not in repr(config)
    pair = ClientConfig("https://x", client_cert_pem=b"c", client_key_pem=b"KEY-PEM")
    assert "KEY-PEM" not in repr(pair)


def test_pem_that_does_not_load_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="certificate authority does not load"):
        ClientConfig("https://x", ca_pem=b"not a certificate").ssl_context()
    with pytest.raises(ConfigError, match="client certificate and key do not load"):
        ClientConfig("https://x", client_cert_pem=CA_PEM, client_key_pem=b"no").ssl_context()


def test_user_agent_names_version_platform_and_component() -> None:
    agent = ClientConfig("https://x").user_agent
    assert agent.startswith("pynetes/0.1.0 (")
    assert agent.split(") ", 1)[1]  # the program's name


# -- files and paths ---------------------------------------------------------------


def test_relative_paths_are_relative_to_the_file_that_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "conf"
    (home / "pki").mkdir(parents=True)
    (home / "pki" / "ca.crt").write_bytes(CA_PEM)
    (home / "pki" / "me.crt").write_bytes(CLIENT.certificate_pem())
    (home / "pki" / "me.key").write_bytes(CLIENT.key_pem())
    document = config_file(
        {"c": {"server": "https://h:6443", "certificate-authority": "pki/ca.crt"}},
        {"u": {"client-certificate": "pki/me.crt", "client-key": "pki/me.key"}},
        {"ctx": {"cluster": "c", "user": "u"}},
        "ctx",
    )
    path = write(home / "config", document)
    monkeypatch.chdir(tmp_path)  # not the file's directory
    config = load_kubeconfig(path)
    assert config.ca_pem == CA_PEM
    assert config.client_key_pem == CLIENT.key_pem()
    assert config.ssl_context() is not None  # the pair loads


def test_token_file_is_read_and_kept_for_rereading(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET_TOKEN + "\n")
    path = write(tmp_path / "config", simple(user={"tokenFile": "token"}))
    config = load_kubeconfig(path)
    assert config.token == SECRET_TOKEN
    assert config.token_file == tmp_path / "token"


def test_an_inline_token_wins_over_a_token_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config", simple(user={"token": "inline", "tokenFile": "missing"}))
    assert load_kubeconfig(path).token == "inline"


def test_home_kube_config_is_the_default(tmp_path: Path) -> None:
    write(tmp_path / ".kube" / "config", simple())
    config = load_kubeconfig(env={"HOME": str(tmp_path)})
    assert config.server == "https://10.0.0.1:6443"


def test_an_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_kubeconfig(tmp_path / "nope")


def test_no_kubeconfig_anywhere_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no configuration has been provided"):
        load_kubeconfig(env={"HOME": str(tmp_path)})


# -- KUBECONFIG --------------------------------------------------------------------


def test_kubeconfig_files_merge_first_wins_each_name_whole(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a",
        config_file(
            {"shared": {"server": "https://first:6443", "insecure-skip-tls-verify": True}},
            {"u": {"token": "first-token"}},
            {"one": {"cluster": "shared", "user": "u"}},
        ),
    )
    second = write(
        tmp_path / "b",
        config_file(
            # same name: ignored whole, even its keys the first entry lacks
            {
                "shared": {"server": "https://second:6443", "tls-server-name": "ignored"},
                "other": {"server": "https://other:6443", "insecure-skip-tls-verify": True},
            },
            {"u": {"token": "second-token"}},
            {"two": {"cluster": "other", "user": "u", "namespace": "ns2"}},
            "one",
        ),
    )
    listed = os.pathsep.join([str(tmp_path / "missing"), str(first), str(second), str(first)])
    config = load_kubeconfig(env={"KUBECONFIG": listed})
    assert config.server == "https://first:6443"  # current-context from the second file
    assert config.tls_server_name is None
    assert config.token == "first-token"
    two = load_kubeconfig(context="two", env={"KUBECONFIG": listed})
    assert (two.server, two.namespace, two.token) == ("https://other:6443", "ns2", "first-token")


def test_the_first_current_context_set_wins(tmp_path: Path) -> None:
    both = simple()
    other = {"cluster": "c", "user": "u", "namespace": "other-ns"}
    both["contexts"].append({"name": "other", "context": other})
    first = write(tmp_path / "a", {**both, "current-context": ""})
    second = write(tmp_path / "b", {**both, "current-context": "other"})
    third = write(tmp_path / "c", {**both, "current-context": "ctx"})
    listed = os.pathsep.join(map(str, [first, second, third]))
    config = load_kubeconfig(env={"KUBECONFIG": listed})
    assert config.namespace == "other-ns"
    with pytest.raises(ConfigError, match="not found for specified context: gone"):
        load_kubeconfig(context="gone", env={"KUBECONFIG": listed})


# -- cluster and user entries ------------------------------------------------------


def test_insecure_skip_tls_verify_checks_nothing(tmp_path: Path) -> None:
    document = config_file(
        {"c": {"server": "https://h:6443", "insecure-skip-tls-verify": True}},
        {"u": {"token": SECRET_TOKEN}},
        {"ctx": {"cluster": "c", "user": "u"}},
        "ctx",
    )
    context = load_kubeconfig(write(tmp_path / "config", document)).ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_a_server_without_scheme_is_https_when_tls_is_configured(tmp_path: Path) -> None:
    config = load_kubeconfig(write(tmp_path / "config", simple(server="h:6443")))
    assert config.server == "https://h:6443"


def test_credentials_are_not_sent_to_plain_http(tmp_path: Path) -> None:
    document = config_file(
        {"c": {"server": "http://h:8080"}},
        {"u": {"token": SECRET_TOKEN}},
        {"ctx": {"cluster": "c", "user": "u"}},
        "ctx",
    )
    config = load_kubeconfig(write(tmp_path / "config", document))
    assert config.token is None and config.ssl_context() is None


def test_tls_server_name_is_kept(tmp_path: Path) -> None:
    document = simple()
    document["clusters"][0]["cluster"]["tls-server-name"] = "kubernetes.default"
    assert load_kubeconfig(write(tmp_path / "c", document)).tls_server_name == "kubernetes.default"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["contexts"][0]["context"].update(user="ghost"), "user 'ghost' was not found"),
        (lambda d: d["contexts"][0]["context"].update(cluster="x"), "cluster 'x' was not found"),
        (lambda d: d["contexts"][0]["context"].pop("user"), "user was not specified"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "no server found for cluster 'c'"),
        (
            lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "/ca"}),
            "certificate-authority-data and certificate-authority are both specified",
        ),
        (
            lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": "%%%"}),
            "certificate-authority-data of cluster 'c' is not valid base64",
        ),
        (
            lambda d: d["users"][0]["user"].update({"client-certificate-data": b64(b"x")}),
            "client-key-data or client-key must be specified for user 'u'",
        ),
        (
            lambda d: d["users"][0]["user"].update({"exec": {"command": "aws"}}),
            "user 'u' uses exec credential plugins",
        ),
        (lambda d: d["users"][0]["user"].update({"as": "root"}), "uses impersonation"),
        (
            lambda d: d["contexts"][0]["context"].update(namespace="Bad_NS"),
            "namespace 'Bad_NS' for context 'ctx' does not conform",
        ),
        (
            lambda d: d["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True}),
            "root certificates file with the insecure flag is not allowed",
        ),
    ],
)
def test_bad_entries_are_named_and_secrets_not_shown(tmp_path: Path, change, message) -> None:
    document = simple()
    change(document)
    with pytest.raises(ConfigError, match=message) as raised:
        load_kubeconfig(write(tmp_path / "config", document))
    assert SECRET_TOKEN not in str(raised.value)


def test_an_unreadable_file_reference_names_the_entry(tmp_path: Path) -> None:
    document = simple(user={"client-certificate": "nope.crt", "client-key": "nope.key"})
    with pytest.raises(
        ConfigError, match=r"unable to read client-certificate .*nope.crt for user 'u'"
    ):
        load_kubeconfig(write(tmp_path / "config", document))


def test_broken_yaml_is_located_without_quoting_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(f"users:\n- name: u\n  user:\n    token: {SECRET_TOKEN}: x\n")
    with pytest.raises(ConfigError) as raised:
        load_kubeconfig(path)
    assert str(raised.value) == (
        f'error loading config file "{path}": mapping values are not allowed here'
        " (line 4, column 30)"
    )


def test_yaml_that_is_not_a_kubeconfig_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=f'error loading config file "{path}"'):
        load_kubeconfig(path)


# -- in-cluster --------------------------------------------------------------------

IN_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def service_account(tmp_path: Path, namespace: str | None = "apps") -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(SECRET_TOKEN)
    (directory / "ca.crt").write_bytes(CA_PEM)
    if namespace is not None:
        (directory / "namespace").write_text(namespace)
    return directory


def test_in_cluster_config_is_the_pods_service_account(tmp_path: Path) -> None:
    directory = service_account(tmp_path)
    config = load_incluster_config(env=IN_POD, directory=directory)
    assert config.server == "https://10.96.0.1:443"
    assert config.token == SECRET_TOKEN and config.token_file == directory / "token"
    assert config.ca_pem == CA_PEM and config.namespace == "apps"


def test_in_cluster_namespace_prefers_pod_namespace_then_default(tmp_path: Path) -> None:
    directory = service_account(tmp_path, namespace=None)
    assert load_incluster_config(env=IN_POD, directory=directory).namespace == "default"
    env = {**IN_POD, "POD_NAMESPACE": "mine"}
    assert load_incluster_config(env=env, directory=directory).namespace == "mine"


def test_in_cluster_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    config = load_incluster_config(env=env, directory=service_account(tmp_path))
    assert config.server == "https://[fd00::1]:443"


def test_outside_a_pod_in_cluster_config_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"):
        load_incluster_config(env={}, directory=tmp_path)
    with pytest.raises(ConfigError, match="service account token"):
        load_incluster_config(env=IN_POD, directory=tmp_path)


def test_load_config_falls_back_to_in_cluster_without_a_kubeconfig(tmp_path: Path) -> None:
    directory = service_account(tmp_path)
    env = {**IN_POD, "HOME": str(tmp_path)}
    config = load_config(env=env, service_account_dir=directory)
    assert config.server == "https://10.96.0.1:443"
    write(tmp_path / ".kube" / "config", simple())
    assert load_config(env=env, service_account_dir=directory).server == "https://10.0.0.1:6443"
