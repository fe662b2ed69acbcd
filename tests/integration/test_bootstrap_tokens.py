"""Bootstrap tokens against the real API server: authentication, anonymous cluster-info,
token discovery, and ``pynetes token`` (the real command line)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pynetes.api.resources import built_in
from pynetes.apiserver.app import CacheLookup
from pynetes.apiserver.auth.bootstraptoken import BootstrapTokens
from pynetes.client import errors
from pynetes.client.config import ClientConfig, load_config
from pynetes.client.rest import ApiClient
from pynetes.cluster.bootstraptoken import (
    BootstrapToken,
    ca_cert_hash,
    cluster_info_configmap,
    generate_token,
    token_secret,
)
from pynetes.cluster.discovery import DiscoveryError, DiscoveryRefused, discover
from pynetes.pki.kubeconfig import kubeconfig, write_kubeconfig
from tests.integration.conftest import Cluster, Kubectl, api_server, free_port
from tests.integration.controllers.harness import eventually, running_controllers

SECRETS = built_in("", "v1", "secrets")
CONFIG_MAPS = built_in("", "v1", "configmaps")
NAMESPACES = built_in("", "v1", "namespaces")
Object = dict[str, Any]


@dataclass
class Bootstrapped:
    """A server with ``--enable-bootstrap-token-auth`` and an admin client."""

    cluster: Cluster
    admin: ApiClient

    @property
    def url(self) -> str:
        return self.cluster.server.url

    @property
    def ca_pem(self) -> bytes:
        assert self.admin.config.ca_pem is not None
        return self.admin.config.ca_pem

    async def create_token(self, *, now: datetime | None = None, **options: Any) -> BootstrapToken:
        token = generate_token()
        secret = token_secret(token, now=now or datetime.now(UTC), **options)
        await self.admin.create(SECRETS, secret, namespace="kube-system")
        return token

    async def status_with(self, credentials: ClientConfig) -> int:
        """The HTTP status of a GET of the default namespace with ``credentials``."""
        async with ApiClient(credentials) as client:
            try:
                await client.get(NAMESPACES, "default")
            except errors.ApiError as error:
                return error.code
        return 200

    def as_token(self, token: str) -> ClientConfig:
        return ClientConfig(self.url, ca_pem=self.ca_pem, token=token, qps=0)

    def kubectl_as(self, token: str, path: Path) -> Kubectl:
        """The real kubectl with a kubeconfig whose user is ``token``."""
        write_kubeconfig(
            path, kubeconfig(server=self.url, ca_pem=self.ca_pem, user="joiner", token=token)
        )
        return Kubectl(self.cluster.kubectl().binary, path)

    def anonymous(self) -> ClientConfig:
        return ClientConfig(self.url, ca_pem=self.ca_pem, qps=0)

    def authenticator(self, clock: Any = None) -> BootstrapTokens:
        """The server's own bootstrap authenticator over its watch caches (to see the user)."""
        running = self.cluster.server
        lookup = CacheLookup(running.stores, running.api_server.resources)
        return BootstrapTokens(lookup.object, clock or (lambda: datetime.now(UTC).timestamp()))


@pytest.fixture
async def bootstrapped(tmp_path: Path) -> AsyncIterator[Bootstrapped]:
    async with api_server(tmp_path, enable_bootstrap_token_auth=True) as cluster:
        config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
        async with ApiClient(config) as admin:
            yield Bootstrapped(cluster, admin)


async def set_data(api: ApiClient, token: BootstrapToken, key: str, value: str) -> None:
    encoded = base64.b64encode(value.encode()).decode()
    await api.patch(SECRETS, token.secret_name, {"data": {key: encoded}}, namespace="kube-system")


# -- authentication ------------------------------------------------------------------


async def test_a_valid_token_authenticates_as_its_bootstrap_user(
    bootstrapped: Bootstrapped, tmp_path: Path
) -> None:
    token = await bootstrapped.create_token(
        groups=["system:bootstrappers:b", "system:bootstrappers:a", "system:bootstrappers:b"]
    )
    assert await bootstrapped.status_with(bootstrapped.as_token(token.value)) == 200
    kubectl = bootstrapped.kubectl_as(token.value, tmp_path / "bootstrap.conf")
    _code, out, _err = await kubectl("get", "namespace", "default", "-o", "name")
    assert out == "namespace/default\n"
    user = await bootstrapped.authenticator().authenticate_token(token.value)
    assert user is not None
    assert user.name == f"system:bootstrap:{token.id}"
    assert user.groups == (
        "system:bootstrappers",
        "system:bootstrappers:a",
        "system:bootstrappers:b",
    )


async def test_tokens_the_secret_does_not_vouch_for_get_401(
    bootstrapped: Bootstrapped, tmp_path: Path
) -> None:
    expired = await bootstrapped.create_token(
        now=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1)
    )
    not_for_authentication = await bootstrapped.create_token(usages=["signing"], groups=[])
    bad_group = await bootstrapped.create_token()
    await set_data(bootstrapped.admin, bad_group, "auth-extra-groups", "system:masters")
    garbled_expiry = await bootstrapped.create_token()
    await set_data(bootstrapped.admin, garbled_expiry, "expiration", "next week")
    valid = await bootstrapped.create_token()
    wrong_secret = BootstrapToken(valid.id, "x" * 16)
    unknown = generate_token()
    for token in (
        expired,
        not_for_authentication,
        bad_group,
        garbled_expiry,
        wrong_secret,
        unknown,
    ):
        assert await bootstrapped.status_with(bootstrapped.as_token(token.value)) == 401, token


async def test_a_token_stops_working_when_its_expiration_passes(
    bootstrapped: Bootstrapped,
) -> None:
    now = datetime.now(UTC)
    token = await bootstrapped.create_token(now=now, ttl=timedelta(minutes=10))
    clock = {"now": now.timestamp()}
    authenticator = bootstrapped.authenticator(lambda: clock["now"])
    assert await authenticator.authenticate_token(token.value) is not None
    clock["now"] += 600
    assert await authenticator.authenticate_token(token.value) is None


async def test_deleting_the_secret_revokes_the_token(bootstrapped: Bootstrapped) -> None:
    token = await bootstrapped.create_token()
    assert await bootstrapped.status_with(bootstrapped.as_token(token.value)) == 200
    await bootstrapped.admin.delete(SECRETS, token.secret_name, namespace="kube-system")
    assert await bootstrapped.status_with(bootstrapped.as_token(token.value)) == 401


async def test_bootstrap_tokens_are_refused_unless_enabled(cluster: Cluster) -> None:
    config = dataclasses.replace(load_config(cluster.kubeconfig), qps=0)
    async with ApiClient(config) as admin:
        bootstrapped = Bootstrapped(cluster, admin)
        token = await bootstrapped.create_token()
        assert await bootstrapped.status_with(bootstrapped.as_token(token.value)) == 401


# -- anonymous cluster-info ----------------------------------------------------------


async def test_anonymous_users_may_get_cluster_info_and_nothing_else(
    bootstrapped: Bootstrapped,
) -> None:
    admin = bootstrapped.admin
    await admin.create(CONFIG_MAPS, cluster_info_configmap(bootstrapped.url, bootstrapped.ca_pem))
    await admin.create(CONFIG_MAPS, {"metadata": {"name": "other", "namespace": "kube-public"}})
    async with ApiClient(bootstrapped.anonymous()) as anonymous:
        found = await anonymous.get(CONFIG_MAPS, "cluster-info", namespace="kube-public")
        assert found["data"]["kubeconfig"].startswith("apiVersion: v1")
        refused = [
            anonymous.get(CONFIG_MAPS, "other", namespace="kube-public"),
            anonymous.list(CONFIG_MAPS, namespace="kube-public"),
            anonymous.replace(CONFIG_MAPS, found),
            anonymous.delete(CONFIG_MAPS, "cluster-info", namespace="kube-public"),
            anonymous.get(SECRETS, "cluster-info", namespace="kube-public"),
            anonymous.request("GET", "/api"),
        ]
        for request in refused:
            with pytest.raises(errors.Unauthorized):
                await request
    # a wrong token is no anonymous request
    assert await bootstrapped.status_with(bootstrapped.as_token("abcdef.0123456789abcdef")) == 401


# -- discovery -----------------------------------------------------------------------


async def signed(bootstrapped: Bootstrapped, token: BootstrapToken) -> bool:
    found = await bootstrapped.admin.get(CONFIG_MAPS, "cluster-info", namespace="kube-public")
    return f"jws-kubeconfig-{token.id}" in found.get("data", {})


async def test_discovery_trusts_the_cluster_only_with_the_right_token_and_pin(
    bootstrapped: Bootstrapped,
) -> None:
    admin, url, ca_pem = bootstrapped.admin, bootstrapped.url, bootstrapped.ca_pem
    pin = ca_cert_hash(ca_pem)
    token = await bootstrapped.create_token()
    # what may change by waiting is a DiscoveryError join retries; the rest is refused
    with pytest.raises(
        DiscoveryError, match="has no ConfigMap kube-public/cluster-info"
    ) as not_yet:
        await discover(url, token.value, [pin])
    assert not isinstance(not_yet.value, DiscoveryRefused)
    await admin.create(CONFIG_MAPS, cluster_info_configmap(url, ca_pem))
    async with running_controllers(admin, "bootstrapsigner"):
        await eventually(lambda: signed(bootstrapped, token))
        assert await discover(url, token.value, [pin]) == (ca_pem, url)

        with pytest.raises(DiscoveryRefused, match="not the pinned one") as caught:
            await discover(url, token, ["sha256:" + "0" * 64])
        assert token.secret not in str(caught.value)

        wrong = BootstrapToken(token.id, "y" * 16)
        with pytest.raises(DiscoveryRefused, match="does not verify") as caught:
            await discover(url, wrong, [pin])
        assert wrong.secret not in str(caught.value)

        unsigned = await bootstrapped.create_token(usages=["authentication"])
        with pytest.raises(
            DiscoveryError, match=f"no signature for token id '{unsigned.id}'"
        ) as not_yet:
            await discover(url, unsigned, [pin])
        assert not isinstance(not_yet.value, DiscoveryRefused)

    with pytest.raises(DiscoveryRefused, match="--ca-cert-hash"):
        await discover(url, token, [])
    nobody = f"https://127.0.0.1:{free_port()}"
    with pytest.raises(DiscoveryError, match="unreachable"):
        await discover(nobody, token, [pin])


# -- pynetes token -------------------------------------------------------------------


async def pynetes_token(kubeconfig: Path, *arguments: str) -> tuple[int, str, str]:
    """``python -m pynetes token ARGUMENTS --kubeconfig KUBECONFIG``, as a user runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pynetes",
        "token",
        *arguments,
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_token_create_list_delete(bootstrapped: Bootstrapped) -> None:
    kubeconfig = bootstrapped.cluster.kubeconfig
    code, out, err = await pynetes_token(kubeconfig, "create", "--description", "node one")
    assert code == 0, err
    token = out.strip()
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token)
    assert await bootstrapped.status_with(bootstrapped.as_token(token)) == 200

    code, out, err = await pynetes_token(
        kubeconfig, "create", "--print-join-command", "--ttl", "1h30m", "--usages", "signing",
        "--groups", "",
    )  # fmt: skip
    assert code == 0, err
    joined = re.fullmatch(
        r"pynetes join --server (\S+) --token ([a-z0-9.]+) --ca-cert-hash (sha256:[0-9a-f]{64})\n",
        out,
    )
    assert joined is not None, out
    assert joined.group(1) == bootstrapped.url
    assert joined.group(3) == ca_cert_hash(bootstrapped.ca_pem)
    signing_only = joined.group(2)
    assert await bootstrapped.status_with(bootstrapped.as_token(signing_only)) == 401

    code, out, err = await pynetes_token(kubeconfig, "list")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA", "GROUPS"]
    by_token = {row.split()[0]: row.split(maxsplit=4) for row in rows}
    assert set(by_token) == {token, signing_only}
    assert by_token[token][1] in ("23h", "24h")
    assert by_token[token][3] == "authentication,signing"
    assert by_token[token][4].split() == [
        "node", "one", "system:bootstrappers:kubeadm:default-node-token",
    ]  # fmt: skip
    assert by_token[signing_only][1:2] == ["1h"] and by_token[signing_only][3] == "signing"

    code, out, err = await pynetes_token(kubeconfig, "delete", token.split(".")[0], signing_only)
    assert code == 0, err
    assert out.splitlines() == [
        f'bootstrap token "{token.split(".")[0]}" deleted',
        f'bootstrap token "{signing_only.split(".")[0]}" deleted',
    ]
    assert await bootstrapped.status_with(bootstrapped.as_token(token)) == 401
    code, out, err = await pynetes_token(kubeconfig, "list")
    assert out.splitlines()[1:] == []


async def test_token_command_errors_are_clear(bootstrapped: Bootstrapped) -> None:
    kubeconfig = bootstrapped.cluster.kubeconfig
    code, _out, err = await pynetes_token(kubeconfig, "delete", "zzzzzz")
    assert (code, err) == (1, "error: bootstrap token 'zzzzzz' not found\n")
    code, _out, err = await pynetes_token(kubeconfig, "create", "--ttl", "soon")
    assert code == 1 and 'invalid duration "soon"' in err
    code, _out, err = await pynetes_token(kubeconfig, "create", "--groups", "system:masters")
    assert code == 1 and '"system:masters" is invalid' in err
    code, _out, err = await pynetes_token(kubeconfig, "create", "NotAToken")
    assert code == 1 and "NotAToken" not in err
    token = generate_token().value
    assert (await pynetes_token(kubeconfig, "create", token))[0] == 0
    code, _out, err = await pynetes_token(kubeconfig, "create", token)
    assert code == 1 and "already exists" in err and token.split(".")[1] not in err
