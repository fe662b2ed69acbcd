"""Request attributes as upstream's RequestInfoFactory derives them, and AlwaysAllow.

Rows follow upstream's requestinfo_test.go cases and the requests kubectl and
the controllers send.
"""

from __future__ import annotations

import pytest

from pynetes.apiserver.auth import (
    AlwaysAllow,
    Attributes,
    RequestInfoError,
    UserInfo,
    request_attributes,
)

USER = UserInfo("jane", groups=("system:authenticated",))


def resource(verb, path, resource, *, ns="", group="", version="v1", name="", sub=""):
    return Attributes(
        user=USER,
        verb=verb,
        path=path,
        is_resource_request=True,
        namespace=ns,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=sub,
        name=name,
    )


def non_resource(verb, path):
    return Attributes(user=USER, verb=verb, path=path)


PODS = "/api/v1/namespaces/default/pods"

CASES = [
    # Verbs from methods; no name on a GET means list, on a DELETE deletecollection.
    ("GET", PODS, {}, resource("list", PODS, "pods", ns="default")),
    ("GET", PODS + "/web", {}, resource("get", PODS + "/web", "pods", ns="default", name="web")),
    ("HEAD", PODS + "/web", {}, resource("get", PODS + "/web", "pods", ns="default", name="web")),
    ("POST", PODS, {}, resource("create", PODS, "pods", ns="default")),
    ("PUT", PODS + "/web", {}, resource("update", PODS + "/web", "pods", ns="default", name="web")),
    (
        "PATCH",
        PODS + "/web",
        {},
        resource("patch", PODS + "/web", "pods", ns="default", name="web"),
    ),
    (
        "DELETE",
        PODS + "/web",
        {},
        resource("delete", PODS + "/web", "pods", ns="default", name="web"),
    ),
    ("DELETE", PODS, {}, resource("deletecollection", PODS, "pods", ns="default")),
    ("OPTIONS", PODS, {}, resource("", PODS, "pods", ns="default")),
    # watch=<anything but 0/false> makes a list a watch (Convert_Slice_string_To_bool).
    ("GET", PODS, {"watch": "true"}, resource("watch", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": "1"}, resource("watch", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": "True"}, resource("watch", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": ""}, resource("watch", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": "false"}, resource("list", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": "FALSE"}, resource("list", PODS, "pods", ns="default")),
    ("GET", PODS, {"watch": "0"}, resource("list", PODS, "pods", ns="default")),
    # A named GET stays a get, watch or not.
    (
        "GET",
        PODS + "/web",
        {"watch": "true"},
        resource("get", PODS + "/web", "pods", ns="default", name="web"),
    ),
    # Subresources.
    (
        "GET",
        PODS + "/web/log",
        {"follow": "true"},
        resource("get", PODS + "/web/log", "pods", ns="default", name="web", sub="log"),
    ),
    (
        "PUT",
        PODS + "/web/status",
        {},
        resource("update", PODS + "/web/status", "pods", ns="default", name="web", sub="status"),
    ),
    (
        "POST",
        PODS + "/web/binding",
        {},
        resource("create", PODS + "/web/binding", "pods", ns="default", name="web", sub="binding"),
    ),
    (
        "POST",
        PODS + "/web/eviction",
        {},
        resource(
            "create", PODS + "/web/eviction", "pods", ns="default", name="web", sub="eviction"
        ),
    ),
    (
        "GET",
        PODS + "/web/exec",
        {"command": "ls", "stdout": "true"},
        resource("get", PODS + "/web/exec", "pods", ns="default", name="web", sub="exec"),
    ),
    (
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        {},
        resource(
            "patch",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            "deployments",
            ns="default",
            group="apps",
            name="web",
            sub="scale",
        ),
    ),
    # Parts after the subresource are not interpreted.
    (
        "GET",
        "/api/v1/nodes/n1/proxy/metrics/cadvisor",
        {},
        resource("get", "/api/v1/nodes/n1/proxy/metrics/cadvisor", "nodes", name="n1", sub="proxy"),
    ),
    # Groups, cluster scope, trailing slashes.
    (
        "GET",
        "/apis/apps/v1/namespaces/default/deployments",
        {},
        resource(
            "list",
            "/apis/apps/v1/namespaces/default/deployments",
            "deployments",
            ns="default",
            group="apps",
        ),
    ),
    (
        "GET",
        "/apis/apps/v1/deployments",
        {},
        resource("list", "/apis/apps/v1/deployments", "deployments", group="apps"),
    ),
    ("GET", "/api/v1/nodes", {}, resource("list", "/api/v1/nodes", "nodes")),
    ("GET", "/api/v1/pods/", {}, resource("list", "/api/v1/pods/", "pods")),
    (
        "GET",
        "/apis/storage.k8s.io/v1/storageclasses/fast",
        {},
        resource(
            "get",
            "/apis/storage.k8s.io/v1/storageclasses/fast",
            "storageclasses",
            group="storage.k8s.io",
            name="fast",
        ),
    ),
    # Namespaces: a namespace's own path sets its namespace too; status and
    # finalize are its subresources, not resources inside it.
    ("GET", "/api/v1/namespaces", {}, resource("list", "/api/v1/namespaces", "namespaces")),
    (
        "GET",
        "/api/v1/namespaces/kube-system",
        {},
        resource(
            "get",
            "/api/v1/namespaces/kube-system",
            "namespaces",
            ns="kube-system",
            name="kube-system",
        ),
    ),
    (
        "PUT",
        "/api/v1/namespaces/old/finalize",
        {},
        resource(
            "update",
            "/api/v1/namespaces/old/finalize",
            "namespaces",
            ns="old",
            name="old",
            sub="finalize",
        ),
    ),
    (
        "GET",
        "/api/v1/namespaces/old/status",
        {},
        resource(
            "get", "/api/v1/namespaces/old/status", "namespaces", ns="old", name="old", sub="status"
        ),
    ),
    (
        "DELETE",
        "/api/v1/namespaces/old",
        {},
        resource("delete", "/api/v1/namespaces/old", "namespaces", ns="old", name="old"),
    ),
    # Deprecated verbs in the path.
    (
        "GET",
        "/api/v1/watch/namespaces/default/pods",
        {},
        resource("watch", "/api/v1/watch/namespaces/default/pods", "pods", ns="default"),
    ),
    (
        "GET",
        "/api/v1/watch/namespaces/default/pods/web",
        {},
        resource(
            "watch", "/api/v1/watch/namespaces/default/pods/web", "pods", ns="default", name="web"
        ),
    ),
    (
        "GET",
        "/api/v1/proxy/namespaces/default/pods/web/some/path",
        {},
        resource(
            "proxy",
            "/api/v1/proxy/namespaces/default/pods/web/some/path",
            "pods",
            ns="default",
            name="web",
        ),
    ),
    # Non-resource requests: discovery, health, OpenAPI. The verb is the method.
    ("GET", "/", {}, non_resource("get", "/")),
    ("GET", "/api", {}, non_resource("get", "/api")),
    ("GET", "/api/", {}, non_resource("get", "/api/")),
    ("GET", "/api/v1", {}, non_resource("get", "/api/v1")),
    ("GET", "/apis", {}, non_resource("get", "/apis")),
    ("GET", "/apis/apps", {}, non_resource("get", "/apis/apps")),
    ("GET", "/apis/apps/v1", {}, non_resource("get", "/apis/apps/v1")),
    ("GET", "/healthz", {}, non_resource("get", "/healthz")),
    ("HEAD", "/healthz", {}, non_resource("head", "/healthz")),
    ("POST", "/healthz", {}, non_resource("post", "/healthz")),
    ("GET", "/version/", {}, non_resource("get", "/version/")),
    ("GET", "/openapi/v3/apis/apps/v1", {}, non_resource("get", "/openapi/v3/apis/apps/v1")),
    ("GET", "/metrics", {}, non_resource("get", "/metrics")),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), CASES)
def test_request_attributes(method, path, query, expected):
    assert request_attributes(method, path, query, user=USER) == expected


NAME_CASES = [
    # A list or watch selecting one name is authorized as that name
    # (kubectl get pod web -w, kubectl delete --wait).
    ({"fieldSelector": "metadata.name=web"}, "web"),
    ({"fieldSelector": "metadata.name==web"}, "web"),
    ({"fieldSelector": "metadata.name=web", "watch": "1"}, "web"),
    ({"fieldSelector": "metadata.name=web,status.phase=Running"}, "web"),
    ({"fieldSelector": "status.phase=Running,metadata.name=web"}, "web"),
    ({"fieldSelector": "metadata.name=web", "limit": "500", "timeoutSeconds": "30"}, "web"),
    ({"fieldSelector": r"metadata.name=we\,b"}, "we,b"),
    # Upstream sorts the terms: the first name in that order counts.
    ({"fieldSelector": "metadata.name=b,metadata.name=a"}, "a"),
    # No single name.
    ({"fieldSelector": "metadata.name!=web"}, ""),
    ({"fieldSelector": "spec.nodeName=n1"}, ""),
    ({"fieldSelector": ""}, ""),
    # Names that cannot be a path segment.
    ({"fieldSelector": "metadata.name=a/b"}, ""),
    ({"fieldSelector": "metadata.name=.."}, ""),
    ({"fieldSelector": "metadata.name=100%"}, ""),
    # List options that do not parse: upstream drops them all, name included.
    ({"fieldSelector": "metadata.name=web,garbage"}, ""),
    ({"fieldSelector": r"metadata.name=w\eb"}, ""),
    ({"fieldSelector": "metadata.name=a=b"}, ""),
    ({"fieldSelector": "metadata.name=web\\"}, ""),
    ({"fieldSelector": "metadata.name=web", "limit": "many"}, ""),
    ({"fieldSelector": "metadata.name=web", "limit": ""}, ""),
    ({"fieldSelector": "metadata.name=web", "timeoutSeconds": "1.5"}, ""),
    ({"fieldSelector": "metadata.name=web", "limit": str(2**63)}, ""),
]


@pytest.mark.parametrize(("query", "name"), NAME_CASES)
def test_a_field_selected_name_counts_for_list_and_watch(query, name):
    attributes = request_attributes("GET", PODS, query, user=USER)
    assert attributes.name == name
    assert attributes.verb == ("watch" if "watch" in query else "list")


def test_a_collection_delete_with_a_name_selector_stays_a_collection_delete():
    # Upstream reads the selected name only when turning a get into list/watch.
    attributes = request_attributes(
        "DELETE", PODS, {"fieldSelector": "metadata.name=web"}, user=USER
    )
    assert (attributes.verb, attributes.name) == ("deletecollection", "")


def test_a_watch_of_nothing_is_an_error():
    with pytest.raises(RequestInfoError, match="unable to determine kind and namespace from url"):
        request_attributes("GET", "/api/v1/watch", {}, user=USER)


def test_the_user_is_carried_through():
    assert request_attributes("GET", "/healthz", {}, user=None).user is None


async def test_always_allow_allows_anyone_anything():
    attributes = request_attributes(
        "DELETE", "/api/v1/namespaces/kube-system", {}, user=UserInfo("nobody")
    )
    decision = await AlwaysAllow().authorize(attributes)
    assert decision.allowed
