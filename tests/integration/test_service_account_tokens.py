"""Service account tokens through the real API server: TokenRequest, authentication, admission."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pynetes.api.resources import built_in
from pynetes.apiserver.auth.serviceaccount import DEFAULT_ISSUER, TokenIssuer, claims
from pynetes.client import errors
from pynetes.client.config import ClientConfig, load_config
from pynetes.client.rest import ApiClient
from pynetes.pki.certificates import Pki
from tests.integration.conftest import Cluster

Object = dict[str, Any]

SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
PODS = built_in("", "v1", "pods")
SECRETS = built_in("", "v1", "secrets")
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as client:
        yield client


async def request_token(api: ApiClient, account: str, spec: Object | None = None) -> Object:
    return await api.request(
        "POST",
        f"/api/v1/namespaces/default/serviceaccounts/{account}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}},
    )


def as_bearer(api: ApiClient, token: str) -> ApiClient:
    """A client of the same server that presents only ``token``."""
    return ApiClient(ClientConfig(api.config.server, ca_pem=api.config.ca_pem, token=token, qps=0))


async def who_am_i(api: ApiClient, token: str) -> Object:
    """GET /api with the token: authentication alone decides (the server allows every user)."""
    async with as_bearer(api, token) as client:
        return await client.request("GET", "/api")


async def refused(api: ApiClient, token: str) -> bool:
    try:
        await who_am_i(api, token)
    except errors.Unauthorized:
        return True
    return False


async def account(api: ApiClient, name: str = "sa-1") -> Object:
    return await api.create(SERVICE_ACCOUNTS, {"metadata": {"name": name}}, namespace="default")


def pod_of(name: str, **spec: Any) -> Object:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


async def test_token_request_answers_a_signed_token_with_upstreams_claims(
    cluster: Cluster, api: ApiClient
) -> None:
    created = await account(api)
    answer = await request_token(api, "sa-1")
    assert answer["kind"] == "TokenRequest"
    assert answer["metadata"]["name"] == "sa-1"
    assert answer["spec"]["audiences"] == [DEFAULT_ISSUER]
    assert answer["spec"]["expirationSeconds"] == 3600
    public = Pki(cluster.server.pki_dir).service_account_public_key.read_bytes()
    token = jwt.decode(
        answer["status"]["token"], public, algorithms=["RS256"], audience=DEFAULT_ISSUER
    )
    assert token["iss"] == DEFAULT_ISSUER
    assert token["sub"] == "system:serviceaccount:default:sa-1"
    assert token["exp"] - token["iat"] == 3600
    assert token["nbf"] == token["iat"] and token["jti"]
    assert token["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "sa-1", "uid": created["metadata"]["uid"]},
    }
    expires = datetime.fromisoformat(answer["status"]["expirationTimestamp"])
    assert int(expires.timestamp()) == token["exp"]


async def test_token_request_validation_and_missing_account(api: ApiClient) -> None:
    with pytest.raises(errors.NotFound):
        await request_token(api, "nobody")
    await account(api)
    with pytest.raises(errors.Invalid, match="less than 10 minutes"):
        await request_token(api, "sa-1", {"expirationSeconds": 599})
    with pytest.raises(errors.BadRequest, match="cannot bind token"):
        await request_token(api, "sa-1", {"boundObjectRef": {"kind": "Node", "name": "n"}})


async def test_the_token_authenticates_as_the_service_account(api: ApiClient) -> None:
    await account(api)
    token = (await request_token(api, "sa-1"))["status"]["token"]
    assert (await who_am_i(api, token))["kind"] == "APIVersions"
    await api.delete(SERVICE_ACCOUNTS, "sa-1", namespace="default")
    assert await refused(api, token)


async def test_forged_expired_and_foreign_audience_tokens_are_refused(
    cluster: Cluster, api: ApiClient
) -> None:
    created = await account(api)
    other = await request_token(api, "sa-1", {"audiences": ["https://elsewhere"]})
    assert await refused(api, other["status"]["token"])
    pki = Pki(cluster.server.pki_dir)
    issuer = TokenIssuer(pki.service_account_key.read_bytes(), DEFAULT_ISSUER)
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    expired = claims(
        issuer=DEFAULT_ISSUER,
        audiences=[DEFAULT_ISSUER],
        account=created,
        now=long_ago,
        expiration_seconds=3600,
    )
    assert await refused(api, issuer.sign(expired))
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forger = TokenIssuer(
        foreign_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        DEFAULT_ISSUER,
    )
    fresh = {**expired, "exp": int(datetime.now(UTC).timestamp()) + 600}
    fresh["iat"] = fresh["nbf"] = fresh["exp"] - 1200
    assert await refused(api, forger.sign(fresh))
    assert not await refused(api, issuer.sign(fresh))


async def test_a_bound_token_names_the_pod_and_dies_with_it(api: ApiClient) -> None:
    await account(api)
    pod = await api.create(PODS, pod_of("p", serviceAccountName="sa-1"), namespace="default")
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": pod["metadata"]["uid"]}
    token = (await request_token(api, "sa-1", {"boundObjectRef": ref}))["status"]["token"]
    private = jwt.decode(token, options={"verify_signature": False})["kubernetes.io"]
    assert private["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    assert not await refused(api, token)
    await api.delete(PODS, "p", namespace="default")
    assert await refused(api, token)
    await api.create(PODS, pod_of("q"), namespace="default")
    with pytest.raises(errors.BadRequest, match="different serviceaccount"):
        await request_token(api, "sa-1", {"boundObjectRef": {**ref, "name": "q", "uid": ""}})


async def test_a_token_bound_to_a_secret_dies_with_it(api: ApiClient) -> None:
    await account(api)
    secret = await api.create(SECRETS, {"metadata": {"name": "s"}}, namespace="default")
    ref = {"kind": "Secret", "name": "s", "uid": secret["metadata"]["uid"]}
    token = (await request_token(api, "sa-1", {"boundObjectRef": ref}))["status"]["token"]
    assert not await refused(api, token)
    await api.delete(SECRETS, "s", namespace="default")
    assert await refused(api, token)


async def test_kubectl_create_token(cluster: Cluster, api: ApiClient) -> None:
    await account(api, "default")
    _code, out, _err = await cluster.kubectl()("create", "token", "default")
    token = out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == (
        "system:serviceaccount:default:default"
    )
    assert not await refused(api, token)
    listed = {r["name"]: r for r in (await api.request("GET", "/api/v1"))["resources"]}
    assert listed["serviceaccounts/token"]["verbs"] == ["create"]
    assert listed["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    assert listed["serviceaccounts/token"]["kind"] == "TokenRequest"


async def test_admission_mounts_the_token_volume(api: ApiClient) -> None:
    pod = await api.create(
        PODS,
        pod_of("p", initContainers=[{"name": "i", "image": "busybox"}]),
        namespace="default",
    )
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    [volume] = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"] == {
        "name": "kube-root-ca.crt",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    for container in spec["containers"] + spec["initContainers"]:
        assert container["volumeMounts"] == [mount]


async def test_no_token_volume_when_opted_out_or_mirrored(api: ApiClient) -> None:
    opted_out = await api.create(
        PODS, pod_of("p", automountServiceAccountToken=False), namespace="default"
    )
    assert not opted_out["spec"].get("volumes")
    await api.create(
        SERVICE_ACCOUNTS,
        {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False},
        namespace="default",
    )
    quiet = await api.create(PODS, pod_of("q", serviceAccountName="quiet"), namespace="default")
    assert not quiet["spec"].get("volumes")
    mirror = pod_of("m", nodeName="node-1")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    mirrored = await api.create(PODS, mirror, namespace="default")
    assert not mirrored["spec"].get("volumes")
    assert not mirrored["spec"].get("serviceAccountName")
