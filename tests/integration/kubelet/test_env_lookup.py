"""Container environments resolved against ConfigMaps, Secrets and Services in the API server."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from pynetes.api.resources import built_in
from pynetes.client.config import load_config
from pynetes.client.events import EVENTS, EventRecorder
from pynetes.client.rest import ApiClient
from pynetes.kubelet.env import ContainerConfigError, container_environment, expand_command
from pynetes.kubelet.lookup import CONFIG_MAPS, SECRETS, ApiObjectLookup

PODS = built_in("", "v1", "pods")
SERVICES = built_in("", "v1", "services")


async def _create_pod(api, containers, **spec):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": containers, **spec},
    }
    return await api.create(PODS, pod)


async def _environment(api, pod, container=None):
    services = (await api.list_all(SERVICES))["items"]
    return await container_environment(
        pod,
        container or pod["spec"]["containers"][0],
        lookup=ApiObjectLookup(api),
        services=services,
        pod_ip="10.1.0.7",
        host_ip="192.168.0.2",
        node_name="node-1",
    )


async def test_env_from_config_maps_secrets_and_services(api):
    await api.create(
        CONFIG_MAPS,
        {"metadata": {"name": "settings"}, "data": {"MODE": "fast", "LEVEL": "3"}},
        namespace="default",
    )
    await api.create(
        SECRETS,
        {
            "metadata": {"name": "creds"},
            "data": {"password": base64.b64encode(b"hunter2").decode()},
        },
        namespace="default",
    )
    await api.create(
        SERVICES,
        {
            "metadata": {"name": "backend-api"},
            "spec": {
                "clusterIP": "10.96.0.20",
                "ports": [{"name": "http", "port": 8080}],
                "selector": {"app": "b"},
            },
        },
        namespace="default",
    )
    container = {
        "name": "c",
        "image": "busybox",
        "command": ["sh", "-c", "echo $(GREETING) $(MODE)"],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "APP_"}],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
            {
                "name": "PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
            },
            {"name": "GREETING", "value": "hello from $(POD_NAME)"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "BACKEND",
                "value": "$(BACKEND_API_SERVICE_HOST):$(BACKEND_API_SERVICE_PORT_HTTP)",
            },
        ],
    }
    pod = await _create_pod(api, [container])
    env = await _environment(api, pod)
    values = dict(env)
    assert values["APP_MODE"] == "fast" and values["APP_LEVEL"] == "3"
    assert values["MODE"] == "fast"
    assert values["PASSWORD"] == "hunter2"
    # POD_NAME comes later, so it is not expanded in GREETING
    assert values["GREETING"] == "hello from $(POD_NAME)"
    assert values["BACKEND"] == "10.96.0.20:8080"
    assert values["BACKEND_API_PORT"] == "tcp://10.96.0.20:8080"
    assert "KUBERNETES_SERVICE_HOST" in values
    command, _ = expand_command(container, env)
    assert command == ["sh", "-c", "echo hello from $(POD_NAME) fast"]


async def test_service_links_off_keeps_kubernetes_service_only(api):
    await api.create(
        SERVICES,
        {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.30", "ports": [{"port": 80}]}},
        namespace="default",
    )
    pod = await _create_pod(api, [{"name": "c", "image": "busybox"}], enableServiceLinks=False)
    names = {name for name, _ in await _environment(api, pod)}
    assert "KUBERNETES_SERVICE_HOST" in names
    assert not any(name.startswith("WEB_") for name in names)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}},
            'configmap "absent" not found',
        ),
        (
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "present", "key": "nokey"}}},
            "couldn't find key nokey in ConfigMap default/present",
        ),
        (
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}},
            'secret "absent" not found',
        ),
    ],
)
async def test_missing_objects_and_keys_are_config_errors(api, env, message):
    await api.create(
        CONFIG_MAPS, {"metadata": {"name": "present"}, "data": {"k": "v"}}, namespace="default"
    )
    pod = await _create_pod(api, [{"name": "c", "image": "busybox", "env": [env]}])
    with pytest.raises(ContainerConfigError) as caught:
        await _environment(api, pod)
    assert str(caught.value) == message


async def test_missing_env_from_is_an_error_unless_optional(api):
    pod = await _create_pod(
        api,
        [
            {"name": "c", "image": "busybox", "envFrom": [{"secretRef": {"name": "gone"}}]},
            {
                "name": "d",
                "image": "busybox",
                "envFrom": [{"secretRef": {"name": "gone", "optional": True}}],
            },
        ],
    )
    with pytest.raises(ContainerConfigError, match='secret "gone" not found'):
        await _environment(api, pod)
    optional = await _environment(api, pod, pod["spec"]["containers"][1])
    assert all(name.startswith("KUBERNETES_") for name, _ in optional)  # the server's Service


async def test_invalid_env_from_keys_are_skipped_with_a_warning_event(api):
    await api.create(
        CONFIG_MAPS,
        {"metadata": {"name": "mixed"}, "data": {"GOOD": "1", "9lives": "2", "1st": "3"}},
        namespace="default",
    )
    container = {"name": "c", "image": "busybox", "envFrom": [{"configMapRef": {"name": "mixed"}}]}
    pod = await _create_pod(api, [container])
    async with EventRecorder(api, "kubelet") as recorder:
        env = await container_environment(
            pod,
            container,
            lookup=ApiObjectLookup(api),
            services=[],
            pod_ip="10.1.0.7",
            host_ip="192.168.0.2",
            node_name="node-1",
            recorder=recorder,
        )
        await recorder.flush()
    assert env == [("GOOD", "1")]
    (event,) = (await api.list(EVENTS, namespace="default"))["items"]
    assert event["type"] == "Warning"
    assert event["reason"] == "InvalidEnvironmentVariableNames"
    assert event["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert event["message"] == (
        "Keys [1st, 9lives] from the EnvFrom configMap default/mixed were skipped "
        "since they are considered invalid environment variable names."
    )


async def test_unreadable_objects_are_config_errors_not_crashes(api, cluster):
    """A kubelet whose credentials the server refuses reports why, on the container."""
    config = dataclasses.replace(
        load_config(cluster.kubeconfig), client_cert_pem=None, client_key_pem=None, token="wrong"
    )
    container = {
        "name": "c",
        "image": "busybox",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
    }
    pod = await _create_pod(api, [container])
    async with ApiClient(config) as refused:
        with pytest.raises(ContainerConfigError, match="Unauthorized"):
            await container_environment(
                pod,
                container,
                lookup=ApiObjectLookup(refused),
                services=[],
                pod_ip="10.1.0.7",
                host_ip="192.168.0.2",
                node_name="node-1",
            )
