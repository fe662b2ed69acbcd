"""Unit tests of the container environment: $(VAR) expansion, service links, precedence."""

from __future__ import annotations

import base64

import pytest

from pynetes.kubelet.env import ContainerConfigError, container_environment, expand, expand_command
from pynetes.kubelet.servicelinks import service_environment, service_variables


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "a"),
        ("x$(A)y$(B)z", "xaybz"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("$$", "$"),
        ("$", "$"),
        ("a$", "a$"),
        ("$x", "$x"),
        ("$(A", "$(A"),
        ("$(", "$("),
        ("$()", "$()"),
        ("$(A)$(A)", "aa"),
        ("$(EMPTY)!", "!"),
        ("()", "()"),
        ("$(A)) ", "a) "),
        ("é$(A)é", "éaé"),
    ],
)
def test_expand_follows_upstream_syntax(text, expected):
    assert expand(text, {"A": "a", "B": "b", "EMPTY": ""}) == expected


def test_expand_command_expands_command_and_args():
    container = {"command": ["sh", "-c", "echo $(GREETING)"], "args": ["$(NAME)", "$$(NAME)"]}
    command, args = expand_command(container, [("GREETING", "hi"), ("NAME", "pod")])
    assert command == ["sh", "-c", "echo hi"]
    assert args == ["pod", "$(NAME)"]
    assert expand_command({}, []) == ([], [])


def _service(name, namespace="ns", ip="10.0.0.5", ports=None, **spec):
    ports = ports if ports is not None else [{"port": 80, "protocol": "TCP"}]
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterIP": ip, "ports": ports, **spec},
    }


def test_service_variables_have_upstream_names_and_order():
    service = _service(
        "my-svc",
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "dns-udp", "port": 53, "protocol": "UDP"},
        ],
    )
    assert service_variables(service) == [
        ("MY_SVC_SERVICE_HOST", "10.0.0.5"),
        ("MY_SVC_SERVICE_PORT", "80"),
        ("MY_SVC_SERVICE_PORT_HTTP", "80"),
        ("MY_SVC_SERVICE_PORT_DNS_UDP", "53"),
        ("MY_SVC_PORT", "tcp://10.0.0.5:80"),
        ("MY_SVC_PORT_80_TCP", "tcp://10.0.0.5:80"),
        ("MY_SVC_PORT_80_TCP_PROTO", "tcp"),
        ("MY_SVC_PORT_80_TCP_PORT", "80"),
        ("MY_SVC_PORT_80_TCP_ADDR", "10.0.0.5"),
        ("MY_SVC_PORT_53_UDP", "udp://10.0.0.5:53"),
        ("MY_SVC_PORT_53_UDP_PROTO", "udp"),
        ("MY_SVC_PORT_53_UDP_PORT", "53"),
        ("MY_SVC_PORT_53_UDP_ADDR", "10.0.0.5"),
    ]


def test_ipv6_service_addresses_are_bracketed():
    variables = dict(service_variables(_service("v6", ip="fd00::1")))
    assert variables["V6_PORT"] == "tcp://[fd00::1]:80"


def test_headless_and_external_name_services_get_no_variables():
    headless = _service("headless", ip="None")
    external = {
        "metadata": {"name": "ext", "namespace": "ns"},
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }
    assert service_environment([headless, external], "ns", enable_service_links=True) == {}


def test_service_links_choose_namespace_and_master_services():
    services = [
        _service("kubernetes", namespace="default", ip="10.0.0.1", ports=[{"port": 443}]),
        _service("web"),
        _service("other", namespace="elsewhere"),
    ]
    linked = service_environment(services, "ns", enable_service_links=True)
    assert linked["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"
    assert linked["WEB_SERVICE_HOST"] == "10.0.0.5"
    assert not any(name.startswith("OTHER_") for name in linked)
    unlinked = service_environment(services, "ns", enable_service_links=False)
    assert set(unlinked) == {name for name in linked if name.startswith("KUBERNETES_")}


class Objects:
    """An in-memory ObjectLookup (the real one is tested against the API server)."""

    def __init__(self, config_maps=None, secrets=None):
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}

    async def get_config_map(self, namespace, name):
        return self.config_maps.get((namespace, name))

    async def get_secret(self, namespace, name):
        return self.secrets.get((namespace, name))


def _pod(container, **spec):
    return {
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "u-1",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": 'say "hi"'},
        },
        "spec": {"nodeName": "node-1", "containers": [container], **spec},
    }


async def _environment(container, objects=None, services=(), **spec):
    return await container_environment(
        _pod(container, **spec),
        container,
        lookup=objects or Objects(),
        services=services,
        pod_ip="10.1.0.7",
        host_ip="192.168.0.2",
        node_name="node-1",
        node_allocatable={"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"},
    )


async def test_env_wins_over_env_from_which_wins_over_services():
    objects = Objects(config_maps={("ns", "cm"): {"data": {"WEB_SERVICE_HOST": "cm", "A": "1"}}})
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}}],
        "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "$(A)-$(WEB_SERVICE_PORT)"}],
    }
    env = await _environment(container, objects, services=[_service("web")])
    names = [name for name, _ in env]
    assert len(names) == len(set(names))
    values = dict(env)
    assert values["WEB_SERVICE_HOST"] == "cm"
    assert values["A"] == "2"
    assert values["B"] == "2-80"
    # envFrom and env first, in the order first set; then the remaining service variables
    assert names[:3] == ["WEB_SERVICE_HOST", "A", "B"]
    assert names[3:] == [n for n, _ in service_variables(_service("web"))][1:]


async def test_expansion_sees_only_earlier_entries():
    container = {
        "name": "c",
        "env": [
            {"name": "FIRST", "value": "$(SECOND)"},
            {"name": "SECOND", "value": "two"},
            {"name": "THIRD", "value": "$(SECOND)"},
        ],
    }
    values = dict(await _environment(container))
    assert values == {"FIRST": "$(SECOND)", "SECOND": "two", "THIRD": "two"}


async def test_env_from_prefix_secret_and_invalid_keys_skipped():
    secret = {"data": {"password": base64.b64encode(b"s3cret").decode()}}
    objects = Objects(
        config_maps={("ns", "cm"): {"data": {"key": "v", "bad key": "x", "1x": "y"}}},
        secrets={("ns", "s"): secret},
    )
    container = {
        "name": "c",
        "envFrom": [
            {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
            {"configMapRef": {"name": "cm"}},
            {"secretRef": {"name": "s"}},
            {"secretRef": {"name": "missing", "optional": True}},
        ],
    }
    values = dict(await _environment(container, objects))
    assert values == {"CM_key": "v", "CM_1x": "y", "key": "v", "password": "s3cret"}


async def test_field_refs():
    fields = {
        "NAME": "metadata.name",
        "NS": "metadata.namespace",
        "UID": "metadata.uid",
        "APP": "metadata.labels['app']",
        "NOTE": "metadata.annotations['note']",
        "LABELS": "metadata.labels",
        "NODE": "spec.nodeName",
        "SA": "spec.serviceAccountName",
        "HOST_IP": "status.hostIP",
        "HOST_IPS": "status.hostIPs",
        "POD_IP": "status.podIP",
        "POD_IPS": "status.podIPs",
        "HOST": "spec.host",
    }
    container = {
        "name": "c",
        "env": [
            {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
            for name, path in fields.items()
        ],
    }
    values = dict(await _environment(container, serviceAccountName="robot"))
    assert values == {
        "NAME": "p",
        "NS": "ns",
        "UID": "u-1",
        "APP": "web",
        "NOTE": 'say "hi"',
        "LABELS": 'app="web"\ntier="front"',
        "NODE": "node-1",
        "SA": "robot",
        "HOST_IP": "192.168.0.2",
        "HOST_IPS": "192.168.0.2",
        "POD_IP": "10.1.0.7",
        "POD_IPS": "10.1.0.7",
        "HOST": "node-1",
    }


async def test_resource_field_refs_round_up_and_default_limits_to_allocatable():
    def ref(resource, divisor=None):
        selector = {"resource": resource}
        if divisor:
            selector["divisor"] = divisor
        return {
            "name": resource.replace(".", "_").replace("-", "_").upper(),
            "valueFrom": {"resourceFieldRef": selector},
        }

    container = {
        "name": "c",
        "resources": {"requests": {"cpu": "250m", "memory": "100Mi"}, "limits": {"cpu": "1500m"}},
        "env": [
            ref("limits.cpu"),
            {**ref("requests.cpu", "1m"), "name": "CPU_MILLI"},
            ref("requests.cpu"),
            ref("limits.memory", "1Mi"),
            ref("requests.memory", "1Mi"),
            ref("limits.ephemeral-storage", "1Gi"),
            ref("requests.ephemeral-storage"),
        ],
    }
    values = dict(await _environment(container))
    assert values == {
        "LIMITS_CPU": "2",
        "CPU_MILLI": "250",
        "REQUESTS_CPU": "1",
        "LIMITS_MEMORY": "8192",
        "REQUESTS_MEMORY": "100",
        "LIMITS_EPHEMERAL_STORAGE": "100",
        "REQUESTS_EPHEMERAL_STORAGE": "0",
    }


@pytest.mark.parametrize(
    ("value_from", "message"),
    [
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"configMapKeyRef": {"name": "cm", "key": "k"}}, "couldn't find key k in ConfigMap ns/cm"),
        ({"secretKeyRef": {"name": "s", "key": "k"}}, "couldn't find key k in Secret ns/s"),
        ({"fieldRef": {"fieldPath": "spec.bogus"}}, "field label not supported: spec.bogus"),
        (
            {"fieldRef": {"fieldPath": "spec.x['y']"}},
            "field label does not support subscript: spec.x['y']",
        ),
        (
            {"fieldRef": {"fieldPath": "status.phase"}},
            "unsupported fieldPath: status.phase",
        ),
        (
            {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}},
            "unsupported pod version: v2",
        ),
        (
            {"resourceFieldRef": {"resource": "limits.gpu"}},
            "unsupported container resource : limits.gpu",
        ),
    ],
)
async def test_missing_references_fail_with_upstream_messages(value_from, message):
    objects = Objects(config_maps={("ns", "cm"): {"data": {}}}, secrets={("ns", "s"): {}})
    container = {"name": "c", "env": [{"name": "X", "valueFrom": value_from}]}
    with pytest.raises(ContainerConfigError) as caught:
        await _environment(container, objects)
    assert str(caught.value) == message
    assert caught.value.reason == "CreateContainerConfigError"


async def test_optional_references_to_nothing_leave_the_variable_out():
    objects = Objects(config_maps={("ns", "cm"): {"data": {}}})
    container = {
        "name": "c",
        "env": [
            {
                "name": "A",
                "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": True}},
            },
            {
                "name": "B",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}},
            },
            {"name": "C"},
        ],
    }
    assert await _environment(container, objects) == [("C", "")]


async def test_disabled_service_links_keep_only_the_kubernetes_service():
    services = [
        _service("kubernetes", namespace="default", ip="10.0.0.1", ports=[{"port": 443}]),
        _service("web"),
    ]
    env = await _environment({"name": "c"}, services=services, enableServiceLinks=False)
    assert {name.split("_")[0] for name, _ in env} == {"KUBERNETES"}
