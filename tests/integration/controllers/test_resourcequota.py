"""The resourcequota controller against the real API server."""

from __future__ import annotations

from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster
from tests.integration.controllers.harness import eventually, running_controllers
from tests.integration.controllers.widgets import WIDGETS, widget, widget_crd

Object = dict[str, Any]

NAMESPACES = built_in("", "v1", "namespaces")
QUOTAS = built_in("", "v1", "resourcequotas")
PODS = built_in("", "v1", "pods")
CONFIGMAPS = built_in("", "v1", "configmaps")
SERVICES = built_in("", "v1", "services")
DEPLOYMENTS = built_in("apps", "v1", "deployments")
NS = "team"


async def namespace(api: ApiClient) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": NS}})


async def quota(api: ApiClient, name: str, hard: dict[str, str], **spec: Any) -> None:
    body = {"metadata": {"name": name, "namespace": NS}, "spec": {"hard": hard, **spec}}
    await api.create(QUOTAS, body)


async def used_becomes(api: ApiClient, name: str, expected: dict[str, str]) -> Object:
    """The quota's status once its ``used`` is ``expected`` (and ``hard`` mirrors the spec)."""

    async def check() -> Object | None:
        found = await api.get(QUOTAS, name, namespace=NS)
        status = found.get("status") or {}
        if status.get("used") == expected and status.get("hard") == found["spec"]["hard"]:
            return status
        return None

    return await eventually(check)


async def pod(
    api: ApiClient,
    name: str,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    **spec: Any,
) -> Object:
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    body = {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}], **spec},
    }
    return await api.create(PODS, body)


async def test_object_counts_follow_creation_and_deletion(api: ApiClient) -> None:
    await namespace(api)
    await quota(
        api, "counts", {"pods": "5", "configmaps": "3", "count/configmaps": "3", "foo": "1"}
    )
    async with running_controllers(api, "resourcequota"):
        # a name no evaluator knows ("foo") gets no use
        await used_becomes(api, "counts", {"pods": "0", "configmaps": "0", "count/configmaps": "0"})
        await pod(api, "web")
        for index in range(2):
            await api.create(CONFIGMAPS, {"metadata": {"name": f"cm-{index}", "namespace": NS}})
        await used_becomes(api, "counts", {"pods": "1", "configmaps": "2", "count/configmaps": "2"})

        await api.delete(CONFIGMAPS, "cm-0", namespace=NS)
        await api.delete(PODS, "web", namespace=NS)
        await used_becomes(api, "counts", {"pods": "0", "configmaps": "1", "count/configmaps": "1"})


async def test_compute_use_is_summed_as_upstream_formats_it(api: ApiClient) -> None:
    await namespace(api)
    names = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
    await quota(api, "compute", dict.fromkeys(names, "100Gi") | {"pods": "10", "count/pods": "10"})
    async with running_controllers(api, "resourcequota"):
        await pod(api, "a", {"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
        await pod(api, "b", {"cpu": "1", "memory": "512Mi"}, {"cpu": "2", "memory": "512Mi"})
        await pod(api, "done", {"cpu": "4", "memory": "4Gi"}, {"cpu": "4", "memory": "4Gi"})
        await api.patch(
            PODS, "done", {"status": {"phase": "Succeeded"}}, namespace=NS, subresource="status"
        )
        # the finished pod counts in count/pods only
        await used_becomes(
            api,
            "compute",
            {
                "cpu": "1500m",
                "requests.cpu": "1500m",
                "limits.cpu": "3",
                "memory": "1536Mi",
                "requests.memory": "1536Mi",
                "limits.memory": "1536Mi",
                "pods": "2",
                "count/pods": "3",
            },
        )


async def test_scopes_select_the_pods_a_quota_counts(api: ApiClient) -> None:
    await namespace(api)
    await quota(api, "best-effort", {"pods": "10"}, scopes=["BestEffort"])
    await quota(api, "terminating", {"pods": "10"}, scopes=["Terminating"])
    selector = {
        "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
    }
    await quota(api, "high", {"pods": "10"}, scopeSelector=selector)
    await api.create(
        built_in("scheduling.k8s.io", "v1", "priorityclasses"),
        {"metadata": {"name": "high"}, "value": 1000},
    )
    async with running_controllers(api, "resourcequota"):
        await pod(api, "plain")
        await pod(api, "sized", {"cpu": "1"})
        await pod(api, "job", activeDeadlineSeconds=60)
        await pod(api, "important", {"cpu": "1"}, priorityClassName="high")
        await used_becomes(api, "best-effort", {"pods": "2"})
        await used_becomes(api, "terminating", {"pods": "1"})
        await used_becomes(api, "high", {"pods": "1"})


async def test_services_and_any_resource_by_count(api: ApiClient) -> None:
    await namespace(api)
    hard = {
        "services": "10",
        "services.nodeports": "10",
        "services.loadbalancers": "10",
        "count/deployments.apps": "10",
    }
    await quota(api, "mixed", hard)
    ports = [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]
    async with running_controllers(api, "resourcequota"):
        for name, kind in (("a", "ClusterIP"), ("b", "NodePort"), ("c", "LoadBalancer")):
            body = {
                "metadata": {"name": name, "namespace": NS},
                "spec": {"type": kind, "ports": ports, "selector": {"app": name}},
            }
            await api.create(SERVICES, body)
        deployment = {
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }
        await api.create(DEPLOYMENTS, deployment)
        await used_becomes(
            api,
            "mixed",
            {
                "services": "3",
                "services.nodeports": "4",
                "services.loadbalancers": "1",
                "count/deployments.apps": "1",
            },
        )


async def test_a_changed_spec_is_mirrored_and_counted(api: ApiClient) -> None:
    await namespace(api)
    await quota(api, "grows", {"pods": "1"})
    async with running_controllers(api, "resourcequota"):
        await pod(api, "web", {"memory": "100Mi"})
        await used_becomes(api, "grows", {"pods": "1"})
        await api.patch(
            QUOTAS,
            "grows",
            {"spec": {"hard": {"pods": "2", "requests.memory": "1Gi"}}},
            namespace=NS,
        )
        status = await used_becomes(api, "grows", {"pods": "1", "requests.memory": "100Mi"})
        assert status["hard"] == {"pods": "2", "requests.memory": "1Gi"}


# -- admission: the API server refuses what would exceed a quota -----------------------


async def counted_by_hand(
    api: ApiClient, name: str, hard: dict[str, str], used: dict[str, str] | None
) -> None:
    """A quota's status as the controller would write it (no controller in the test)."""
    status = {"hard": hard, "used": used} if used is not None else {"hard": hard}
    await api.patch(QUOTAS, name, {"status": status}, namespace=NS, subresource="status")


async def status_used(api: ApiClient, name: str) -> dict[str, str]:
    return (await api.get(QUOTAS, name, namespace=NS))["status"]["used"]


async def test_creates_are_charged_and_refused_past_the_limit(api: ApiClient) -> None:
    await namespace(api)
    await quota(api, "pods", {"pods": "2"})
    await counted_by_hand(api, "pods", {"pods": "2"}, {"pods": "0"})
    await pod(api, "web-0")
    assert await status_used(api, "pods") == {"pods": "1"}
    await api.request(
        "POST",
        f"/api/v1/namespaces/{NS}/pods",
        params={"dryRun": "All"},
        body={"metadata": {"name": "dry"}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
    )
    assert await status_used(api, "pods") == {"pods": "1"}
    await pod(api, "web-1")

    with pytest.raises(errors.Forbidden) as refused:
        await pod(api, "web-2")
    assert refused.value.status["message"] == (
        'pods "web-2" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2,'
        " limited: pods=2"
    )
    assert await status_used(api, "pods") == {"pods": "2"}


async def test_a_quota_not_yet_counted_refuses_what_it_tracks(api: ApiClient) -> None:
    await namespace(api)
    await quota(api, "fresh", {"pods": "2"})
    await counted_by_hand(api, "fresh", {"pods": "2"}, None)
    with pytest.raises(errors.Forbidden) as refused:
        await pod(api, "web")
    assert refused.value.status["message"] == (
        'pods "web" is forbidden: status unknown for quota: fresh, resources: pods'
    )
    await api.create(CONFIGMAPS, {"metadata": {"name": "untracked", "namespace": NS}})


async def test_compute_quotas_need_every_container_to_state_its_requests(api: ApiClient) -> None:
    await namespace(api)
    hard = {"requests.cpu": "2", "limits.memory": "1Gi"}
    await quota(api, "compute", hard)
    async with running_controllers(api, "resourcequota"):
        await used_becomes(api, "compute", {"requests.cpu": "0", "limits.memory": "0"})
        with pytest.raises(errors.Forbidden) as refused:
            await pod(api, "bare", {"cpu": "1"})
        assert refused.value.status["message"] == (
            'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: c'
        )
        await pod(api, "a", {"cpu": "1500m"}, {"memory": "512Mi"})
        with pytest.raises(errors.Forbidden) as refused:
            await pod(api, "b", {"cpu": "1"}, {"memory": "512Mi"})
        assert refused.value.status["message"] == (
            'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=1,'
            " used: requests.cpu=1500m, limited: requests.cpu=2"
        )


async def test_kubectl_reports_the_exceeded_quota(api: ApiClient, cluster: Cluster) -> None:
    await namespace(api)
    await quota(api, "few", {"count/configmaps": "1"})
    await counted_by_hand(api, "few", {"count/configmaps": "1"}, {"count/configmaps": "0"})
    kubectl = cluster.kubectl()
    await kubectl("create", "configmap", "one", "-n", NS)
    code, _out, err = await kubectl("create", "configmap", "two", "-n", NS, check=False)
    assert code != 0
    assert (
        'configmaps "two" is forbidden: exceeded quota: few, requested: count/configmaps=1,'
        " used: count/configmaps=1, limited: count/configmaps=1"
    ) in err
    _code, out, _err = await kubectl("get", "quota", "few", "-n", NS)
    assert "count/configmaps: 1/1" in out


async def test_custom_resources_are_counted_once_served(api: ApiClient) -> None:
    await namespace(api)
    await quota(api, "widgets", {"count/widgets.example.com": "5"})
    async with running_controllers(api, "resourcequota"):
        await used_becomes(api, "widgets", {})  # not served: not counted
        await widget_crd(api, scale=False)
        # the quota's next sync (a spec change here; else within DISCOVERY_RETRY) finds it
        bigger = {"spec": {"hard": {"count/widgets.example.com": "6"}}}
        await api.patch(QUOTAS, "widgets", bigger, namespace=NS)
        await used_becomes(api, "widgets", {"count/widgets.example.com": "0"})
        await widget(api, "one", 1, namespace=NS)
        await used_becomes(api, "widgets", {"count/widgets.example.com": "1"})
        await api.delete(WIDGETS, "one", namespace=NS)
        await used_becomes(api, "widgets", {"count/widgets.example.com": "0"})


async def test_a_service_turned_load_balancer_is_charged(api: ApiClient) -> None:
    await namespace(api)
    hard = {"services.loadbalancers": "1", "services": "5"}
    await quota(api, "balancers", hard)
    await counted_by_hand(api, "balancers", hard, {"services.loadbalancers": "0", "services": "0"})

    async def service(name: str, kind: str) -> None:
        ports = [{"port": 80}]
        body = {"metadata": {"name": name, "namespace": NS}, "spec": {"type": kind, "ports": ports}}
        await api.create(SERVICES, body)

    await service("a", "ClusterIP")
    await service("b", "ClusterIP")
    await api.patch(SERVICES, "a", {"spec": {"type": "LoadBalancer"}}, namespace=NS)
    assert await status_used(api, "balancers") == {"services.loadbalancers": "1", "services": "2"}
    # an update that adds nothing is not charged again
    await api.patch(SERVICES, "a", {"metadata": {"labels": {"x": "y"}}}, namespace=NS)
    with pytest.raises(errors.Forbidden) as refused:
        await api.patch(SERVICES, "b", {"spec": {"type": "LoadBalancer"}}, namespace=NS)
    assert refused.value.status["message"] == (
        'services "b" is forbidden: exceeded quota: balancers, requested:'
        " services.loadbalancers=1, used: services.loadbalancers=1, limited:"
        " services.loadbalancers=1"
    )
    assert (await api.get(SERVICES, "b", namespace=NS))["spec"]["type"] == "ClusterIP"
