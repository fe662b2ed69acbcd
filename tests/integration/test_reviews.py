"""Access reviews and SelfSubjectReview through the real API server: kubectl auth can-i
and whoami (1.31 sends JSON, 1.33 protobuf), and the reviews controllers send."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from pynetes.client import errors
from pynetes.client.config import load_config
from pynetes.client.rest import ApiClient
from tests.integration.conftest import Cluster

AUTHORIZATION = "/apis/authorization.k8s.io/v1"


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


@pytest.mark.parametrize("version", ["1.31", "1.33"])
async def test_kubectl_auth_can_i_and_whoami(cluster: Cluster, version: str) -> None:
    kubectl = cluster.kubectl(version)
    for question in (["create", "pods"], ["get", "/healthz"], ["delete", "nodes", "-A"]):
        _, out, _ = await kubectl("auth", "can-i", *question)
        assert out.strip() == "yes"
    _, out, _ = await kubectl("auth", "whoami")
    rows = [line.split(None, 1) for line in out.splitlines()]
    assert rows == [
        ["ATTRIBUTE", "VALUE"],
        ["Username", "kubernetes-admin"],
        ["Groups", "[system:masters system:authenticated]"],
    ]
    _, out, _ = await kubectl("auth", "can-i", "--list", "-n", "default")
    assert out.splitlines()[1].split() == ["*.*", "[]", "[]", "[*]"]


async def test_a_subject_access_review_answers_for_the_subject_named(api: ApiClient) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "bob",
            "groups": ["dev"],
            "resourceAttributes": {"namespace": "web", "verb": "get", "resource": "pods"},
        },
    }
    answer = await api.request("POST", f"{AUTHORIZATION}/subjectaccessreviews", body=review)
    assert answer["status"] == {"allowed": True}
    assert answer["spec"] == review["spec"]
    assert answer["kind"] == "SubjectAccessReview"


async def test_reviews_that_ask_nothing_or_two_things_are_invalid(api: ApiClient) -> None:
    path = f"{AUTHORIZATION}/selfsubjectaccessreviews"
    with pytest.raises(errors.Invalid) as refused:
        await api.request("POST", path, body={"spec": {}})
    assert refused.value.status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "null": exactly one of nonResourceAttributes or'
            " resourceAttributes must be specified",
            "field": "spec.resourceAttributes",
        }
    ]
    both = {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/x"}}
    with pytest.raises(errors.Invalid):
        await api.request("POST", path, body={"spec": both})
    with pytest.raises(errors.Invalid):  # a SubjectAccessReview needs a subject
        await api.request(
            "POST",
            f"{AUTHORIZATION}/subjectaccessreviews",
            body={"spec": {"resourceAttributes": {"verb": "get"}}},
        )


async def test_a_local_review_stays_in_its_namespace(api: ApiClient) -> None:
    path = f"{AUTHORIZATION}/namespaces/web/localsubjectaccessreviews"
    asked = {"user": "bob", "resourceAttributes": {"namespace": "web", "verb": "list"}}
    answer = await api.request("POST", path, body={"spec": asked})
    assert (answer["metadata"]["namespace"], answer["status"]) == ("web", {"allowed": True})
    elsewhere = {"user": "bob", "resourceAttributes": {"namespace": "db", "verb": "list"}}
    with pytest.raises(errors.BadRequest) as refused:
        await api.request("POST", path, body={"spec": elsewhere})
    assert str(refused.value.status["message"]) == (
        "spec.resourceAttributes.namespace must match namespace: web"
    )


async def test_reviews_are_not_stored(api: ApiClient) -> None:
    with pytest.raises(errors.MethodNotAllowed):
        await api.request("GET", f"{AUTHORIZATION}/selfsubjectaccessreviews")


async def test_a_token_review_names_the_tokens_owner(cluster: Cluster, api: ApiClient) -> None:
    """As kube-rbac-proxy asks it: a ServiceAccount's token, then a forged one."""
    await cluster.kubectl()("create", "serviceaccount", "metrics-reader")
    _, token, _ = await cluster.kubectl()("create", "token", "metrics-reader")
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    answer = await api.request("POST", path, body={"spec": {"token": token.strip()}})
    status = answer["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == "system:serviceaccount:default:metrics-reader"
    assert status["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    forged = token.strip()[:-4] + "AAAA"
    answer = await api.request("POST", path, body={"spec": {"token": forged}})
    assert answer["status"]["authenticated"] is False
    unknown = await api.request("POST", path, body={"spec": {"token": "not-a-token"}})
    assert unknown["status"] == {"authenticated": False}
    elsewhere = {"token": token.strip(), "audiences": ["https://vault.example"]}
    answer = await api.request("POST", path, body={"spec": elsewhere})
    assert answer["status"]["authenticated"] is False
    assert "is invalid for the target audiences" in answer["status"]["error"]
    with pytest.raises(errors.BadRequest):
        await api.request("POST", path, body={"spec": {}})
